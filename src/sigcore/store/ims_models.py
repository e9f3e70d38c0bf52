"""IMS tables: private and public identities (many-to-many), service profiles with iFCs and shared iFC
sets, S-CSCF capabilities, per-IMPU registration state, Sh repository data and Sh subscriptions.

Design notes (TS 23.228 §4.3.3, TS 29.228 Annex B):

* An IMPI authenticates; an IMPU is what is registered and routed to. One IMPU may be shared by several
  IMPIs (shared public identities) and one IMPI has several IMPUs: hence the link table.
* The implicit registration set is a number shared by the IMPUs registered together (`implicit_set`);
  a set of one has its own number. Registration state and the assigned S-CSCF are kept per IMPU and are
  written for the whole set at once.
* A SIP Digest password is never stored: only HA1 = MD5(impi:realm:password) (RFC 2617 §3.2.2.2).
  AKA credentials are the linked subscriber's (the same Ki/OPc and the same SQN as S6a).
"""

from __future__ import annotations

import datetime as dt
from typing import cast

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from sigcore.store.base import utc_now
from sigcore.store.models import Base

URI_LEN = 255
PROFILE_NAME_LEN = 100


class ImsPrivateIdentityRow(Base):
    __tablename__ = "ims_private_identities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    impi: Mapped[str] = mapped_column(String(URI_LEN), unique=True)
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True, doc="AKA credentials and SQN (S6a's)"
    )
    digest_realm: Mapped[str | None] = mapped_column(String(URI_LEN))
    digest_ha1: Mapped[str | None] = mapped_column(String(32), doc="hex MD5(impi:realm:password)")
    roaming_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class ImsServiceProfileRow(Base):
    """A service profile (TS 29.228 Annex B.2.1) with the user's charging function addresses."""

    __tablename__ = "ims_service_profiles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(PROFILE_NAME_LEN), unique=True)
    media_profile_id: Mapped[int | None] = mapped_column(Integer, doc="SubscribedMediaProfileId")
    ccf_primary: Mapped[str | None] = mapped_column(String(URI_LEN))
    ccf_secondary: Mapped[str | None] = mapped_column(String(URI_LEN))
    ecf_primary: Mapped[str | None] = mapped_column(String(URI_LEN))
    ecf_secondary: Mapped[str | None] = mapped_column(String(URI_LEN))


class ImsIfcRow(Base):
    """One initial filter criterion, owned by a profile or by a shared iFC set (exactly one of them).

    The trigger point is kept as up to three service point triggers that must all match (CNF, each in
    its own group): method, session case and a Request-URI pattern.
    """

    __tablename__ = "ims_ifcs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    profile_id: Mapped[int | None] = mapped_column(
        ForeignKey("ims_service_profiles.id", ondelete="CASCADE"), index=True
    )
    shared_set: Mapped[int | None] = mapped_column(Integer, index=True)
    priority: Mapped[int] = mapped_column(Integer)
    server_name: Mapped[str] = mapped_column(String(URI_LEN), doc="application server SIP URI")
    default_handling: Mapped[int] = mapped_column(Integer, default=0, doc="0 continue, 1 terminate")
    service_info: Mapped[str | None] = mapped_column(String(1000))
    profile_part: Mapped[int | None] = mapped_column(Integer, doc="0 registered, 1 unregistered")
    trigger_method: Mapped[str | None] = mapped_column(String(32))
    trigger_session_case: Mapped[int | None] = mapped_column(Integer, doc="TS 29.228 tDirectionOfRequest")
    trigger_request_uri: Mapped[str | None] = mapped_column(String(URI_LEN))


class ImsProfileSharedIfcRow(Base):
    __tablename__ = "ims_profile_shared_ifcs"

    profile_id: Mapped[int] = mapped_column(
        ForeignKey("ims_service_profiles.id", ondelete="CASCADE"), primary_key=True
    )
    shared_set: Mapped[int] = mapped_column(Integer, primary_key=True)


class ImsProfileCapabilityRow(Base):
    """An S-CSCF capability the profile needs (mandatory) or would like (optional), for the UAA."""

    __tablename__ = "ims_profile_capabilities"

    profile_id: Mapped[int] = mapped_column(
        ForeignKey("ims_service_profiles.id", ondelete="CASCADE"), primary_key=True
    )
    capability: Mapped[int] = mapped_column(Integer, primary_key=True)
    mandatory: Mapped[bool] = mapped_column(Boolean, default=True)


class ImsPublicIdentityRow(Base):
    __tablename__ = "ims_public_identities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    impu: Mapped[str] = mapped_column(String(URI_LEN), unique=True)
    identity_type: Mapped[int] = mapped_column(Integer, default=0, doc="0 IMPU, 1 distinct PSI, 2 wildcarded PSI")
    wildcard: Mapped[str | None] = mapped_column(String(URI_LEN),
                                                 doc="the wildcarded PSI as TS 23.003 §13.5 writes it (psi_wildcard)")
    display_name: Mapped[str | None] = mapped_column(String(100))
    barred: Mapped[bool] = mapped_column(Boolean, default=False)
    profile_id: Mapped[int] = mapped_column(ForeignKey("ims_service_profiles.id"), index=True)
    implicit_set: Mapped[int] = mapped_column(Integer, index=True)
    preferred_scscf: Mapped[str | None] = mapped_column(String(URI_LEN), doc="offered in UAA capabilities")
    reg_state: Mapped[str] = mapped_column(String(16), default="not_registered")
    scscf_name: Mapped[str | None] = mapped_column(String(URI_LEN))
    scscf_host: Mapped[str | None] = mapped_column(String(URI_LEN), doc="the S-CSCF's Diameter Origin-Host")
    scscf_realm: Mapped[str | None] = mapped_column(String(URI_LEN))
    state_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ImsIdentityLinkRow(Base):
    __tablename__ = "ims_identity_links"

    impi_id: Mapped[int] = mapped_column(
        ForeignKey("ims_private_identities.id", ondelete="CASCADE"), primary_key=True
    )
    impu_id: Mapped[int] = mapped_column(
        ForeignKey("ims_public_identities.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ShRepositoryRow(Base):
    """Transparent data an AS keeps in the HSS (TS 29.328 §7.6.1: RepositoryData)."""

    __tablename__ = "sh_repository_data"
    __table_args__ = (UniqueConstraint("impu_id", "service_indication"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    impu_id: Mapped[int] = mapped_column(ForeignKey("ims_public_identities.id", ondelete="CASCADE"))
    service_indication: Mapped[str] = mapped_column(String(URI_LEN))
    sequence: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary())


class ShSubscriptionRow(Base):
    """An AS's subscription to notifications (SNR) on one Data-Reference of one IMPU."""

    __tablename__ = "sh_subscriptions"
    __table_args__ = (UniqueConstraint("impu_id", "as_host", "data_reference", "service_indication",
                                       name="uq_sh_subscriptions_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    impu_id: Mapped[int] = mapped_column(ForeignKey("ims_public_identities.id", ondelete="CASCADE"), index=True)
    as_host: Mapped[str] = mapped_column(String(URI_LEN))
    as_realm: Mapped[str] = mapped_column(String(URI_LEN))
    data_reference: Mapped[int] = mapped_column(Integer)
    service_indication: Mapped[str] = mapped_column(String(URI_LEN), default="")
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    one_time: Mapped[bool] = mapped_column(Boolean, default=False)


impis = cast(Table, ImsPrivateIdentityRow.__table__)
profiles = cast(Table, ImsServiceProfileRow.__table__)
ifcs = cast(Table, ImsIfcRow.__table__)
profile_shared_ifcs = cast(Table, ImsProfileSharedIfcRow.__table__)
profile_capabilities = cast(Table, ImsProfileCapabilityRow.__table__)
impus = cast(Table, ImsPublicIdentityRow.__table__)
links = cast(Table, ImsIdentityLinkRow.__table__)
sh_repository = cast(Table, ShRepositoryRow.__table__)
sh_subscriptions = cast(Table, ShSubscriptionRow.__table__)
