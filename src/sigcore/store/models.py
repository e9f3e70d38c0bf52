"""The schema as typed SQLAlchemy 2 ORM models.

These classes describe the *current* schema; the Alembic revisions under ``migrations/versions`` are what
creates it (a test checks that the two agree). Later areas (IMS identities, EIR, API tokens and audit) add
their own models on the same ``Base`` and their own revisions; nothing here needs to change for that.

Portability rules, so that SQLite, PostgreSQL, MariaDB and MSSQL all take the same DDL: every string has a
length, no native enums (enumerations are short strings checked in Python), no dialect-specific types,
timestamps stored in UTC, and the one nullable unique column (MSISDN) gets a filtered index on MSSQL,
which otherwise counts NULLs as duplicates.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

IMSI_LEN = 15
MSISDN_LEN = 15
HOST_LEN = 255


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ApnProfileRow(Base):
    """An APN-Configuration template (TS 29.272 §7.3.35) shared by the subscribers that list it."""

    __tablename__ = "apn_profiles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    qci: Mapped[int] = mapped_column(Integer, default=9)
    arp_priority: Mapped[int] = mapped_column(Integer, default=8)
    arp_preemption_capability: Mapped[bool] = mapped_column(Boolean, default=False)
    arp_preemption_vulnerability: Mapped[bool] = mapped_column(Boolean, default=True)
    ambr_ul: Mapped[int] = mapped_column(BigInteger, default=0, doc="APN-AMBR uplink, bit/s")
    ambr_dl: Mapped[int] = mapped_column(BigInteger, default=0, doc="APN-AMBR downlink, bit/s")
    pdn_type: Mapped[str] = mapped_column(String(16), default="ipv4")
    pgw_address: Mapped[str | None] = mapped_column(String(45))
    pgw_host: Mapped[str | None] = mapped_column(String(HOST_LEN))
    pgw_realm: Mapped[str | None] = mapped_column(String(HOST_LEN))
    charging_characteristics: Mapped[str | None] = mapped_column(String(4), doc="4 hex digits")


class SubscriberRow(Base):
    """One EPS subscription, keyed by IMSI."""

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    imsi: Mapped[str] = mapped_column(String(IMSI_LEN), unique=True)
    msisdn: Mapped[str | None] = mapped_column(String(MSISDN_LEN))
    iccid: Mapped[str | None] = mapped_column(String(22))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(32), default="service_granted")
    odb: Mapped[int] = mapped_column(Integer, default=0, doc="Operator-Determined-Barring bits")
    nam: Mapped[str] = mapped_column(String(32), default="only_packet")
    ue_ambr_ul: Mapped[int] = mapped_column(BigInteger, default=0, doc="UE-AMBR uplink, bit/s")
    ue_ambr_dl: Mapped[int] = mapped_column(BigInteger, default=0, doc="UE-AMBR downlink, bit/s")
    default_apn_id: Mapped[int | None] = mapped_column(ForeignKey("apn_profiles.id"))
    access_restriction: Mapped[int] = mapped_column(Integer, default=0, doc="Access-Restriction-Data bits")
    roaming_policy: Mapped[str] = mapped_column(String(16), default="allow_all")
    tau_timer: Mapped[int | None] = mapped_column(Integer, doc="Subscribed-Periodic-RAU-TAU-Timer, s")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)
    profile_version: Mapped[int] = mapped_column(
        BigInteger, default=0, server_default=text("0"),
        doc="bumped by every change of what the MME receives (profile, APN list, an APN profile): the ULR's "
            "Subscription-Data cache key",
    )

    __table_args__ = (
        Index(
            "uq_subscribers_msisdn", "msisdn", unique=True,
            mssql_where=text("msisdn IS NOT NULL"),
        ),
    )


class SubscriberApnRow(Base):
    """Which APN profiles a subscriber may use, with per-subscriber static addresses."""

    __tablename__ = "subscriber_apns"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    apn_id: Mapped[int] = mapped_column(ForeignKey("apn_profiles.id"), primary_key=True, index=True)
    context_id: Mapped[int] = mapped_column(Integer, doc="Context-Identifier, unique per subscriber")
    static_ipv4: Mapped[str | None] = mapped_column(String(15))
    static_ipv6: Mapped[str | None] = mapped_column(String(45))


class AuthDataRow(Base):
    """The AUC record of one subscriber. Keys are AES-GCM blobs (see `sigcore.store.crypto`)."""

    __tablename__ = "auth_data"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    ki_enc: Mapped[bytes] = mapped_column(LargeBinary())
    opc_enc: Mapped[bytes | None] = mapped_column(LargeBinary())
    op_enc: Mapped[bytes | None] = mapped_column(LargeBinary())
    amf: Mapped[int] = mapped_column(Integer, default=0x8000)
    sqn: Mapped[int] = mapped_column(BigInteger, default=0, doc="last SQN handed out (48 bits)")
    algorithm: Mapped[str] = mapped_column(String(16), default="milenage")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)


class ServingStateRow(Base):
    """Where the subscriber is registered. One row per subscriber, created with it (no upserts needed)."""

    __tablename__ = "serving_state"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    mme_host: Mapped[str | None] = mapped_column(String(HOST_LEN), index=True)
    mme_realm: Mapped[str | None] = mapped_column(String(HOST_LEN))
    mme_peer: Mapped[str | None] = mapped_column(String(HOST_LEN))
    mme_updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    mme_purged: Mapped[bool] = mapped_column(Boolean, default=False)
    sgsn_host: Mapped[str | None] = mapped_column(String(HOST_LEN))
    sgsn_realm: Mapped[str | None] = mapped_column(String(HOST_LEN))
    sgsn_peer: Mapped[str | None] = mapped_column(String(HOST_LEN))
    sgsn_updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    sgsn_purged: Mapped[bool] = mapped_column(Boolean, default=False)


class RoamingRuleRow(Base):
    """Allow or deny a visited PLMN (MCC+MNC digits), for one subscriber or, with no subscriber, for all."""

    __tablename__ = "roaming_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    plmn: Mapped[str] = mapped_column(String(6), index=True)
    allowed: Mapped[bool] = mapped_column(Boolean)
