"""What the store hands out: frozen values and the enumerations they use.

Callers (the S6a handlers, the API, the CLI) never see ORM rows or open sessions: a record is a snapshot,
safe to keep, to pass between threads and to compare (``before != after`` tells the API an IDR is due).
Records carrying keys hide them from ``repr`` so that a stray log line cannot leak a Ki.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum


class SubscriberStatus(StrEnum):
    """Subscriber-Status (TS 29.272 §7.3.29)."""

    SERVICE_GRANTED = "service_granted"
    OPERATOR_DETERMINED_BARRING = "operator_determined_barring"


class NetworkAccessMode(StrEnum):
    """Network-Access-Mode (TS 29.272 §7.3.21); value 1 is reserved by the spec."""

    PACKET_AND_CIRCUIT = "packet_and_circuit"
    ONLY_PACKET = "only_packet"


class PdnType(StrEnum):
    """PDN-Type (TS 29.272 §7.3.62); ``code`` is the value sent on the wire."""

    IPV4 = "ipv4"
    IPV6 = "ipv6"
    IPV4V6 = "ipv4v6"
    IPV4_OR_IPV6 = "ipv4_or_ipv6"

    @property
    def code(self) -> int:
        return list(PdnType).index(self)


class RoamingPolicy(StrEnum):
    """How the HSS decides a ULR from a visited PLMN: everywhere, nowhere, or by the roaming rules."""

    ALLOW_ALL = "allow_all"
    HOME_ONLY = "home_only"
    RULES = "rules"


class AuthAlgorithm(StrEnum):
    MILENAGE = "milenage"


@dataclass(frozen=True, slots=True)
class ApnProfile:
    """An APN-Configuration template shared by every subscriber that lists the APN."""

    id: int
    name: str
    qci: int = 9
    arp_priority: int = 8
    arp_preemption_capability: bool = False
    arp_preemption_vulnerability: bool = True
    ambr_ul: int = 0
    ambr_dl: int = 0
    pdn_type: PdnType = PdnType.IPV4
    pgw_address: str | None = None
    pgw_host: str | None = None
    pgw_realm: str | None = None
    charging_characteristics: str | None = None


@dataclass(frozen=True, slots=True)
class ApnAssignment:
    """One APN of one subscriber: the profile plus what is specific to the subscriber."""

    profile: ApnProfile
    context_id: int
    static_ipv4: str | None = None
    static_ipv6: str | None = None

    @property
    def name(self) -> str:
        return self.profile.name


@dataclass(frozen=True, slots=True)
class ApnRequest:
    """An APN to give a subscriber, by profile name, with optional static addresses."""

    name: str
    static_ipv4: str | None = None
    static_ipv6: str | None = None


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A subscriber's EPS profile, without any secret."""

    id: int
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
    apns: tuple[ApnAssignment, ...]
    access_restriction: int
    roaming_policy: RoamingPolicy
    tau_timer: int | None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    def apn(self, name: str) -> ApnAssignment | None:
        """The APN `name` names, spelled exactly so or else in another case (APN names ignore case)."""
        return (next((a for a in self.apns if a.name == name), None)
                or next((a for a in self.apns if a.name.lower() == name.lower()), None))


@dataclass(frozen=True, slots=True)
class AuthMaterial:
    """Decrypted authentication data, for the AUC only; ``repr`` shows no key."""

    subscriber_id: int
    imsi: str
    ki: bytes = field(repr=False)
    opc: bytes | None = field(repr=False)
    op: bytes | None = field(repr=False)
    amf: int
    sqn: int
    algorithm: AuthAlgorithm


@dataclass(frozen=True, slots=True)
class ServingNode:
    """Where a subscriber was last registered (an MME or an SGSN)."""

    host: str
    realm: str | None
    peer: str | None
    updated_at: dt.datetime | None
    purged: bool


@dataclass(frozen=True, slots=True)
class ServingState:
    mme: ServingNode | None
    sgsn: ServingNode | None


@dataclass(frozen=True, slots=True)
class SubscriberFilter:
    """Filters of `Store.list_subscribers`; every field left as None matches all."""

    imsi_prefix: str | None = None
    msisdn_prefix: str | None = None
    enabled: bool | None = None
    apn: str | None = None


@dataclass(frozen=True, slots=True)
class AddedSubscriber:
    """What `Store.add_subscriber` did: the new subscriber and the APN profiles it had to create."""

    subscriber: Subscriber
    created_apns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RoamingRule:
    id: int
    plmn: str
    allowed: bool
    imsi: str | None
