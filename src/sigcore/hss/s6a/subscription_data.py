"""Subscription-Data (TS 29.272 §7.3.2) as data: a subscriber record in, nested (AVP name, value) pairs out.

Nothing here touches the network or the database, so the mapping from the store's profile to the AVPs the
MME receives in a ULA or an IDR can be read and tested on its own. `DICTIONARY.build("Subscription-Data",
subscription_data(sub))` turns the result into the AVP.
"""

from __future__ import annotations

from typing import Any

from sigcore.store import ApnAssignment, NetworkAccessMode, Subscriber, SubscriberStatus
from sigcore.toolkit import tbcd

Pairs = list[tuple[str, Any]]

_STATUS = {SubscriberStatus.SERVICE_GRANTED: "SERVICE_GRANTED",
           SubscriberStatus.OPERATOR_DETERMINED_BARRING: "OPERATOR_DETERMINED_BARRING"}
_NAM = {NetworkAccessMode.PACKET_AND_CIRCUIT: "PACKET_AND_CIRCUIT", NetworkAccessMode.ONLY_PACKET: "ONLY_PACKET"}
# Pre-emption-Capability / -Vulnerability (TS 29.212 §5.3.46/47): 0 = ENABLED, 1 = DISABLED.
_ENABLED, _DISABLED = 0, 1
_BITRATE_MAX = 2**32 - 1  # Max-Requested-Bandwidth-* are Unsigned32 bit/s; above that the Extended-* AVPs (kbit/s)


def ambr(uplink: int, downlink: int) -> Pairs:
    """AMBR (§7.3.41); rates above 4.29 Gbit/s go in the Extended-Max-Requested-BW-* AVPs (TS 29.214)."""
    pairs: Pairs = [
        ("Max-Requested-Bandwidth-UL", min(uplink, _BITRATE_MAX)),
        ("Max-Requested-Bandwidth-DL", min(downlink, _BITRATE_MAX)),
    ]
    if uplink > _BITRATE_MAX:
        pairs.append(("Extended-Max-Requested-BW-UL", uplink // 1000))
    if downlink > _BITRATE_MAX:
        pairs.append(("Extended-Max-Requested-BW-DL", downlink // 1000))
    return pairs


def pgw_agent(assignment: ApnAssignment) -> Pairs | None:
    """MIP6-Agent-Info naming the subscribed PGW by address and/or Diameter identity, or None (dynamic)."""
    p = assignment.profile
    pairs: Pairs = []
    if p.pgw_address:
        pairs.append(("MIP-Home-Agent-Address", p.pgw_address))
    if p.pgw_host:
        pairs.append(("MIP-Home-Agent-Host", [("Destination-Realm", p.pgw_realm or p.pgw_host.partition(".")[2]),
                                              ("Destination-Host", p.pgw_host)]))
    return pairs or None


def apn_configuration(assignment: ApnAssignment) -> Pairs:
    """One APN-Configuration (§7.3.35): QoS with ARP, PDN type, static addresses, PGW, charging, APN-AMBR."""
    p = assignment.profile
    static = [ip for ip in (assignment.static_ipv4, assignment.static_ipv6) if ip]
    agent = pgw_agent(assignment)
    pairs: Pairs = [
        ("Context-Identifier", assignment.context_id),
        ("Served-Party-IP-Address", static or None),
        ("PDN-Type", p.pdn_type.code),
        ("Service-Selection", p.name),
        ("EPS-Subscribed-QoS-Profile", [
            ("QoS-Class-Identifier", p.qci),
            ("Allocation-Retention-Priority", [
                ("Priority-Level", p.arp_priority),
                ("Pre-emption-Capability", _ENABLED if p.arp_preemption_capability else _DISABLED),
                ("Pre-emption-Vulnerability", _ENABLED if p.arp_preemption_vulnerability else _DISABLED),
            ]),
        ]),
        ("MIP6-Agent-Info", agent),
        ("PDN-GW-Allocation-Type", 0 if agent else None),  # STATIC when the profile names the PGW
        ("3GPP-Charging-Characteristics", p.charging_characteristics),
    ]
    if p.ambr_ul or p.ambr_dl:
        pairs.append(("AMBR", ambr(p.ambr_ul, p.ambr_dl)))
    return pairs


def default_context_id(sub: Subscriber) -> int | None:
    """The Context-Identifier of the default APN (the first APN when none is marked default)."""
    default = sub.apn(sub.default_apn) if sub.default_apn else None
    chosen = default or (sub.apns[0] if sub.apns else None)
    return chosen.context_id if chosen else None


def apn_configuration_profile(sub: Subscriber, only: set[str] | None = None) -> Pairs | None:
    """APN-Configuration-Profile (§7.3.34) with every APN, or only those named in `only` (an IDR update)."""
    context = default_context_id(sub)
    if context is None:
        return None
    chosen = [a for a in sub.apns if only is None or a.name in only]
    if not chosen:
        return None
    return [
        ("Context-Identifier", context),
        ("All-APN-Configurations-Included-Indicator", 0 if only is None else 1),
        ("APN-Configuration", [apn_configuration(a) for a in chosen]),
    ]


def subscription_data(sub: Subscriber) -> Pairs:
    """The whole Subscription-Data of a ULA (or a complete IDR). An empty MSISDN is left out (PyHSS #218)."""
    return [
        ("Subscriber-Status", _STATUS[sub.status]),
        ("MSISDN", tbcd.encode(sub.msisdn) if sub.msisdn else None),
        ("Network-Access-Mode", _NAM[sub.nam]),
        ("Operator-Determined-Barring", sub.odb or None),
        ("Access-Restriction-Data", sub.access_restriction or None),
        ("AMBR", ambr(sub.ue_ambr_ul, sub.ue_ambr_dl) if sub.ue_ambr_ul or sub.ue_ambr_dl else None),
        ("APN-Configuration-Profile", apn_configuration_profile(sub)),
        ("Subscribed-Periodic-RAU-TAU-Timer", sub.tau_timer),
    ]


def has_eps_subscription(sub: Subscriber) -> bool:
    """An EPS subscription needs at least one APN; without one a ULR is answered 5420."""
    return bool(sub.apns)


def removed_context_ids(before: Subscriber, after: Subscriber) -> list[int]:
    """Context-Identifiers of APNs `after` no longer has: what a DSR withdraws."""
    kept = {a.name for a in after.apns}
    return [a.context_id for a in before.apns if a.name not in kept]
