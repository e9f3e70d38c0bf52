"""Request and response bodies of the REST API (they are also its OpenAPI schema).

Keys are write-only: Ki, OPc and OP appear in request models only, and no response model has a field
that could carry them. Inputs are constrained here (patterns, ranges) so that the OpenAPI document tells
clients, and schemathesis, exactly what is accepted; the store checks everything again.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from sigcore.store.records import NetworkAccessMode, PdnType, RoamingPolicy, ServingNode, SubscriberStatus
from sigcore.store.tokens import ApiToken, Role
from sigcore.store.validate import BITRATE_MAX

T = TypeVar("T")

Imsi = Annotated[str, Field(pattern=r"^[0-9]{6,15}$", examples=["001010000000001"])]
Msisdn = Annotated[str, Field(pattern=r"^[0-9]{1,15}$", examples=["15550001"])]
Iccid = Annotated[str, Field(pattern=r"^[0-9]{18,22}$")]
Key = Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{32}$", description="128-bit key, 32 hex digits (write-only)")]
Amf = Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{4}$", description="AMF, 4 hex digits", examples=["8000"])]
Sqn = Annotated[int, Field(ge=0, le=(1 << 48) - 1, description="48-bit sequence number")]
ApnName = Annotated[str, Field(pattern=r"^\S{1,100}$", examples=["internet"])]
BitRate = Annotated[int, Field(ge=0, le=BITRATE_MAX, description="bit/s (up to 4,294,967,295 kbit/s)")]
#: A DiameterIdentity (RFC 6733 §4.3.1): an FQDN.
Fqdn = Annotated[str, Field(max_length=255, pattern=r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
                                                    r"(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)+$",
                            examples=["pgw1.epc.example.org"])]
Bits31 = Annotated[int, Field(ge=0, le=2**31 - 1)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApnRequestIn(_In):
    name: ApnName
    static_ipv4: Annotated[str, Field(max_length=15)] | None = None
    static_ipv6: Annotated[str, Field(max_length=45)] | None = None


class _ProfileFields(_In):
    msisdn: Msisdn | None = None
    iccid: Iccid | None = None
    enabled: bool | None = None
    status: SubscriberStatus | None = None
    odb: Bits31 | None = Field(None, description="Operator-Determined-Barring bits")
    nam: NetworkAccessMode | None = None
    ue_ambr_ul: BitRate | None = None
    ue_ambr_dl: BitRate | None = None
    access_restriction: Bits31 | None = Field(None, description="Access-Restriction-Data bits")
    roaming_policy: RoamingPolicy | None = None
    tau_timer: Bits31 | None = Field(None, description="Subscribed-Periodic-RAU-TAU-Timer, seconds")
    apns: list[ApnName | ApnRequestIn] | None = Field(
        None, max_length=50, description="APN names (or objects with static addresses); unknown names get the "
                                         "default APN profile")
    default_apn: ApnName | None = None


NULLABLE_PROFILE_FIELDS = frozenset({"msisdn", "iccid", "tau_timer"})
"""Profile fields where an explicit null means "clear it"; for the others null means "leave as is"."""


class SubscriberCreate(_ProfileFields):
    """A new subscriber. Exactly one of `opc` and `op` is required."""

    imsi: Imsi
    ki: Key
    opc: Key | None = None
    op: Key | None = None
    amf: Amf = "8000"
    sqn: Sqn = 0


class SubscriberPatch(_ProfileFields):
    """Fields to change; `apns` replaces the whole list. Keys change through ``/auth``."""


class AuthUpdate(_In):
    """Key rotation: give `opc` or `op` (never both); giving one clears the other."""

    ki: Key | None = None
    opc: Key | None = None
    op: Key | None = None
    amf: Amf | None = None


class SqnReset(_In):
    sqn: Sqn


class Resync(_In):
    rand: Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{32}$", description="RAND the USIM answered, 32 hex digits")]
    auts: Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{28}$", description="AUTS from the USIM, 28 hex digits")]


class ApnFields(_In):
    qci: Annotated[int, Field(ge=1, le=255)] | None = None
    arp_priority: Annotated[int, Field(ge=1, le=15)] | None = None
    arp_preemption_capability: bool | None = None
    arp_preemption_vulnerability: bool | None = None
    ambr_ul: BitRate | None = Field(None, description="APN-AMBR uplink, bit/s")
    ambr_dl: BitRate | None = Field(None, description="APN-AMBR downlink, bit/s")
    pdn_type: PdnType | None = None
    pgw_address: Annotated[str, Field(max_length=45)] | None = None
    pgw_host: Fqdn | None = Field(None, description="the PGW's DiameterIdentity (MIP-Home-Agent-Host)")
    pgw_realm: Fqdn | None = Field(None, description="its realm (default: pgw_host without its first label)")
    charging_characteristics: Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{4}$")] | None = None


NULLABLE_APN_FIELDS = frozenset({"pgw_address", "pgw_host", "pgw_realm", "charging_characteristics"})


class ApnCreate(ApnFields):
    name: ApnName


class TokenCreate(_In):
    role: Role
    name: Annotated[str, Field(max_length=100, pattern=r"^[^\x00-\x1f\x7f-\x9f]*$",
                               description="printable: it appears in the audit trail")] = ""


# -- responses ----------------------------------------------------------------------------------------


class _Out(BaseModel):
    """Responses are read from the store's records by attribute (records may carry more, e.g. row ids)."""

    model_config = ConfigDict(from_attributes=True)


class ApnAssignmentOut(_Out):
    name: str
    context_id: int
    static_ipv4: str | None
    static_ipv6: str | None


class SubscriberOut(_Out):
    imsi: str
    msisdn: str | None
    iccid: str | None
    enabled: bool
    status: SubscriberStatus
    odb: int
    nam: NetworkAccessMode
    ue_ambr_ul: int
    ue_ambr_dl: int
    default_apn: str | None
    apns: list[ApnAssignmentOut]
    access_restriction: int
    roaming_policy: RoamingPolicy
    tau_timer: int | None
    created_at: dt.datetime | None
    updated_at: dt.datetime | None


class SubscriberCreated(SubscriberOut):
    created_apns: list[str] = Field(description="APN names that had no profile and got the default one")


class AuthInfo(BaseModel):
    """What may be known about a subscriber's authentication data: never the keys themselves."""

    imsi: str
    algorithm: str
    amf: str
    sqn: int
    key_type: str = Field(description="'opc' or 'op': which operator key is stored")


class ApnOut(_Out):
    name: str
    qci: int
    arp_priority: int
    arp_preemption_capability: bool
    arp_preemption_vulnerability: bool
    ambr_ul: int
    ambr_dl: int
    pdn_type: PdnType
    pgw_address: str | None
    pgw_host: str | None
    pgw_realm: str | None
    charging_characteristics: str | None


class ServingOut(BaseModel):
    imsi: str
    mme: ServingNode | None
    sgsn: ServingNode | None


class RemoteCapabilities(BaseModel):
    origin_host: str | None = None
    origin_realm: str | None = None
    host_ip_addresses: list[str] = []
    vendor_id: int | None = None
    product_name: str | None = None
    firmware_revision: int | None = None
    origin_state_id: int | None = None
    applications: list[int] = []


class PeerOut(BaseModel):
    name: str
    state: str
    open: bool
    suspect: bool
    applications: list[int] = Field(description="application ids agreed in the capabilities exchange")
    remote: RemoteCapabilities | None


class TokenIssued(BaseModel):
    secret: str = Field(description="the bearer token; shown this once, only its SHA-256 digest is stored")
    token: ApiToken


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int
    next_after: str | None = Field(default=None, description="where keyset paging goes on (`after=`), if it does")


class ErrorOut(BaseModel):
    detail: str


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(BaseModel):
    detail: list[FieldError]
