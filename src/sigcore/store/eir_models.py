"""EIR tables (Alembic 0004): equipment rules and the history of ME identity checks."""

from __future__ import annotations

import datetime as dt
from typing import cast

from sqlalchemy import Boolean, DateTime, Index, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from sigcore.store.base import utc_now
from sigcore.store.models import IMSI_LEN, Base

IMEI_DIGITS = 14  # TAC (8) + serial number (6), without the check/spare digit (TS 23.003 §6.2.1)
SOFTWARE_VERSION_LEN = 2


class EirRuleRow(Base):
    __tablename__ = "eir_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pattern: Mapped[str] = mapped_column(String(IMEI_DIGITS), doc="a whole IMEI (exact) or its first digits")
    exact: Mapped[bool] = mapped_column(Boolean, doc="true: the IMEI itself; false: any IMEI starting so")
    imsi: Mapped[str | None] = mapped_column(String(IMSI_LEN), doc="the rule applies only with this IMSI")
    status: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    __table_args__ = (Index("ix_eir_rules_pattern", "pattern"),)


class EirCheckRow(Base):
    __tablename__ = "eir_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now, index=True)
    imei: Mapped[str] = mapped_column(String(IMEI_DIGITS), index=True)
    software_version: Mapped[str | None] = mapped_column(String(SOFTWARE_VERSION_LEN))
    imsi: Mapped[str | None] = mapped_column(String(IMSI_LEN))
    status: Mapped[str | None] = mapped_column(String(16), doc="NULL when the equipment was unknown")
    rule_id: Mapped[int | None] = mapped_column(Integer, doc="the rule that decided; not a foreign key, so "
                                                             "deleting a rule keeps its history")
    origin_host: Mapped[str | None] = mapped_column(String(255), doc="the MME/SGSN that asked")


eir_rules = cast(Table, EirRuleRow.__table__)
eir_history = cast(Table, EirCheckRow.__table__)
