"""API token and audit tables (Alembic 0002), and the web console's sessions (0009)."""

from __future__ import annotations

import datetime as dt
from typing import cast

from sqlalchemy import BigInteger, DateTime, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from sigcore.store.base import utc_now
from sigcore.store.models import Base

SHOWN_PREFIX_LEN = 12  # "sgc_" + 8 characters: enough to recognise a token, far too little to guess it


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True, doc="hex SHA-256 of the token")
    prefix: Mapped[str] = mapped_column(String(SHOWN_PREFIX_LEN))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class AuditRow(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now, index=True)
    actor: Mapped[str] = mapped_column(String(120), index=True)
    token_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16), doc="HTTP method or CLI verb")
    target: Mapped[str] = mapped_column(String(255), doc="request path or CLI object")
    status: Mapped[int] = mapped_column(Integer, doc="HTTP status; 0 for CLI success")
    detail: Mapped[str | None] = mapped_column(String(1000), doc="field names changed; never a secret value")


class ConsoleSessionRow(Base):
    """A signed-in console session, shared by every process serving the API (``sigcore run --workers``)."""

    __tablename__ = "console_sessions"

    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True,
                                           doc="hex SHA-256 of the cookie's value (the value itself is not stored)")
    token_id: Mapped[int] = mapped_column(Integer, index=True, doc="the API token it signed in with")
    csrf: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[int] = mapped_column(BigInteger, doc="Unix seconds")
    seen_at: Mapped[int] = mapped_column(BigInteger, index=True, doc="Unix seconds, kept to the minute")


api_tokens = cast(Table, ApiTokenRow.__table__)
audit_log = cast(Table, AuditRow.__table__)
console_sessions = cast(Table, ConsoleSessionRow.__table__)
