"""The charging tables, as SQLAlchemy 2 models on the store's `Base` (created by Alembic revision 0008).

Accounts, action sets, plans and trigger groups are documents (JSON text), as CGrateS keeps them: each is
read and written whole, under its row's lock. Decimals live as text inside the documents, so every backend
keeps them exact (SQLite has no exact NUMERIC).
"""

from __future__ import annotations

import datetime as dt
from typing import cast

from sqlalchemy import DateTime, Index, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from sigcore.store.models import Base

#: JSON text of any length: MySQL's and MariaDB's TEXT holds 64 KiB (an account with a few hundred
#: balances), so there it is LONGTEXT (migration 0010)
DOCUMENT = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")

NAME_LEN = 128
#: Subscription-Id data, Gy Session-Ids and Origin-Hosts (a FQDN's length)
IDENTITY_LEN = 255


class ChargingAccountRow(Base):
    __tablename__ = "charging_accounts"
    __table_args__ = (UniqueConstraint("tenant", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(NAME_LEN))
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    document: Mapped[str] = mapped_column(DOCUMENT)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ChargingDocumentRow(Base):
    """Action sets (kind ``actions``), action plans (``plan``) and trigger groups (``triggers``) by name."""

    __tablename__ = "charging_documents"
    __table_args__ = (UniqueConstraint("kind", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    document: Mapped[str] = mapped_column(DOCUMENT)


class ChargingPlanAccountRow(Base):
    """Which accounts an action plan runs on."""

    __tablename__ = "charging_plan_accounts"
    __table_args__ = (UniqueConstraint("plan", "tenant", "account"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan: Mapped[str] = mapped_column(String(NAME_LEN))
    tenant: Mapped[str] = mapped_column(String(NAME_LEN))
    account: Mapped[str] = mapped_column(String(NAME_LEN))
    since: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ChargingPlanRunRow(Base):
    """One slot of one timing of a plan, claimed for one account in the transaction that runs its actions:
    the unique key is what makes a slot run once per account, whatever the number of processes."""

    __tablename__ = "charging_plan_runs"
    __table_args__ = (UniqueConstraint("plan", "timing", "slot", "tenant", "account"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan: Mapped[str] = mapped_column(String(NAME_LEN))
    timing: Mapped[str] = mapped_column(String(64))
    slot: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    tenant: Mapped[str] = mapped_column(String(NAME_LEN))
    account: Mapped[str] = mapped_column(String(NAME_LEN))
    ran_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ChargingCdrRow(Base):
    __tablename__ = "charging_cdrs"
    __table_args__ = (Index(None, "tenant", "account"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cgrid: Mapped[str] = mapped_column(String(40), index=True)
    run_id: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(64))
    tenant: Mapped[str] = mapped_column(String(NAME_LEN))
    account: Mapped[str] = mapped_column(String(NAME_LEN))
    tor: Mapped[str] = mapped_column(String(16))
    request_type: Mapped[str] = mapped_column(String(32))
    setup_time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    document: Mapped[str] = mapped_column(DOCUMENT)


class ChargingSubscriptionRow(Base):
    """Subscription-Id (RFC 4006 §8.46: type 0 E.164, 1 IMSI, 2 SIP URI, 3 NAI, 4 private) → account."""

    __tablename__ = "charging_subscriptions"
    __table_args__ = (UniqueConstraint("id_type", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id_type: Mapped[int] = mapped_column(Integer)
    value: Mapped[str] = mapped_column(String(IDENTITY_LEN))
    tenant: Mapped[str] = mapped_column(String(NAME_LEN))
    account: Mapped[str] = mapped_column(String(NAME_LEN))


class ChargingSessionRow(Base):
    """An open Gy session: its reservations live in the account's document; this row finds it on timeout,
    and (by account) for the RAR/ASR after a top-up or a disable."""

    __tablename__ = "charging_sessions"
    __table_args__ = (Index(None, "tenant", "account"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(String(IDENTITY_LEN), unique=True)
    tenant: Mapped[str] = mapped_column(String(NAME_LEN))
    account: Mapped[str] = mapped_column(String(NAME_LEN))
    origin_host: Mapped[str] = mapped_column(String(IDENTITY_LEN))
    started: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    document: Mapped[str] = mapped_column(DOCUMENT)


accounts = cast(Table, ChargingAccountRow.__table__)
documents = cast(Table, ChargingDocumentRow.__table__)
plan_accounts = cast(Table, ChargingPlanAccountRow.__table__)
plan_runs = cast(Table, ChargingPlanRunRow.__table__)
cdrs = cast(Table, ChargingCdrRow.__table__)
subscriptions = cast(Table, ChargingSubscriptionRow.__table__)
sessions = cast(Table, ChargingSessionRow.__table__)
