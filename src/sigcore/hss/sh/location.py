"""Sh UserState (Data-Reference 15) and LocationInformation (14) from the serving state S6a records.

TS 29.328 §7.6.6 and §7.6.7 let the HSS read these from the serving nodes (MAP PSI towards an MSC/VLR or
SGSN, S6a/S6d IDR towards an MME or SGSN). sigcore is an EPS HSS without MAP: what it knows is what S6a
wrote (`sigcore.store.serving`): the MME (and an S4-SGSN, if one sent a ULR) that last registered the UE,
when, and whether that node purged it (TS 29.272 §5.2.1.1, §5.2.3.1). It asks no node (no IDR with the
EPS User State / EPS Location Information Request flags), so:

* **EPS user state** (EPSUserState, from the MME): registered and not purged → AttachedReachableForPaging;
  purged, or no MME ever → NetworkDeterminedNotReachable: the state an HLR/HSS determines itself when it
  has no node to ask, as MAP does (TS 29.002 §17.7.1: PS-SubscriberState netDetNotReachable, with
  NotReachableReason msPurged or notRegistered). The Connected/NotReachableForPaging states need the MME.
* **PS user state** (PSUserState, from the SGSN): the same rule on the SGSN record; given when the SGSN is
  asked for explicitly (Requested-Nodes) or one has registered, so that an LTE-only user is not reported
  "not reachable" in PSUserState by default.
* **CS user state**: sigcore has no MSC/VLR registration, which is the HLR's NetworkDeterminedNotReachable
  (TS 29.002 §17.7.1 SubscriberState netDetNotReachable, reason notRegistered).
* **EPS location**: MMEName (the MME's Diameter identity) and AgeOfLocationInformation (minutes since that
  MME's last ULR) while the MME registration lives. No cell, TA, visited PLMN or time zone is held.
  Active location retrieval (Current-Location = InitiateActiveLocationRetrieval) would need an IDR to the
  MME: the stored location is returned without CurrentLocationRetrieved, which is what "the location was
  not obtained by paging" means (TS 29.328 §7.6.6).
* **PS (SGSN) and CS location** are not held (the SGSN number is an E.164 address sigcore does not have;
  there is no VLR): the location is "not available" (TS 29.328 §6.1.1.1 step 5: an empty location
  element, or no Sh-User-Data and DIAMETER_USER_DATA_NOT_AVAILABLE when nothing else was requested).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.constants import ResultCode
from sigcore.diameter.errors import DiameterError
from sigcore.diameter.message import Message
from sigcore.hss.ims.codes import (
    CsUserState,
    DataReference,
    LocalTimeZoneIndication,
    PsUserState,
    RequestedDomain,
    RequestedNodes,
)
from sigcore.hss.ims.documents import EpsLocation, ShDataParts
from sigcore.hss.ims.request_fields import required
from sigcore.store.records import ServingNode, ServingState

MAX_AGE_MINUTES = 32767  # tAgeOfLocationInformation (TS 29.328 Annex D)
_EVERY_NODE = RequestedNodes.MME | RequestedNodes.SGSN | RequestedNodes.TWAN_AAA_SERVER | RequestedNodes.AMF


@dataclass(frozen=True, slots=True)
class ServingQuery:
    """What a UDR asks of the serving nodes (TS 29.328 §6.1.1: Requested-Domain, Requested-Nodes,
    Serving-Node-Indication, Local-Time-Zone-Indication)."""

    domain: RequestedDomain
    nodes: RequestedNodes | None = None  # None: Requested-Nodes absent, every node
    serving_node_only: bool = False
    time_zone_only: bool = False

    def asks(self, node: RequestedNodes) -> bool:
        return bool((self.nodes if self.nodes is not None else _EVERY_NODE) & node)

    def named(self, node: RequestedNodes) -> bool:
        """Whether Requested-Nodes names ``node`` explicitly."""
        return self.nodes is not None and bool(self.nodes & node)


def serving_query(req: Message, references: Sequence[int]) -> ServingQuery | None:
    """The `ServingQuery` of a UDR naming UserState or LocationInformation (None if it names neither).

    Requested-Domain is part of both references' access key and Current-Location is conditional on
    LocationInformation (TS 29.328 §6.1.1 table 6.1.1.1, table 7.6.1): a missing one is 5005 MISSING_AVP
    with the AVP in Failed-AVP, as TS 29.328 §6.1 says for an absent conditional element.
    """
    if DataReference.USER_STATE not in references and DataReference.LOCATION_INFORMATION not in references:
        return None
    domain = _enumerated(req, "Requested-Domain", RequestedDomain)
    if DataReference.LOCATION_INFORMATION in references:
        required(req, "Current-Location")
    nodes = req.get("Requested-Nodes")
    time_zone = req.get("Local-Time-Zone-Indication")
    return ServingQuery(domain, RequestedNodes(int(nodes)) if nodes is not None else None,
                        serving_node_only=req.get("Serving-Node-Indication") is not None,
                        time_zone_only=time_zone is not None
                        and int(time_zone) == LocalTimeZoneIndication.ONLY_LOCAL_TIME_ZONE_REQUESTED)


def _enumerated(req: Message, name: str, kind: type[RequestedDomain]) -> RequestedDomain:
    value = int(required(req, name))
    try:
        return kind(value)
    except ValueError:
        raise DiameterError(ResultCode.INVALID_AVP_VALUE, f"{name} {value}",
                            failed_avps=[D.build(name, value)]) from None


def _live(node: ServingNode | None) -> ServingNode | None:
    return node if node is not None and not node.purged else None


def _ps_state(node: ServingNode | None) -> PsUserState:
    if _live(node) is None:
        return PsUserState.NETWORK_DETERMINED_NOT_REACHABLE
    return PsUserState.ATTACHED_REACHABLE_FOR_PAGING


def add_user_state(parts: ShDataParts, serving: ServingState | None, query: ServingQuery) -> None:
    """UserState (TS 29.328 §7.6.7) for the requested domain and nodes; ``serving`` None: never attached."""
    if query.domain == RequestedDomain.CS_DOMAIN:
        parts.cs_user_state = CsUserState.NETWORK_DETERMINED_NOT_REACHABLE
        return
    mme = serving.mme if serving else None
    sgsn = serving.sgsn if serving else None
    if query.asks(RequestedNodes.MME):
        parts.eps_user_state = _ps_state(mme)
    if query.named(RequestedNodes.SGSN) or (query.asks(RequestedNodes.SGSN) and sgsn is not None):
        parts.ps_user_state = _ps_state(sgsn)


def add_location(parts: ShDataParts, serving: ServingState | None, query: ServingQuery, now: dt.datetime) -> bool:
    """LocationInformation (TS 29.328 §7.6.6) for the requested domain and nodes. Returns whether any location
    is held; a requested one that is not is the empty element of its node, which says "not available"."""
    if query.domain == RequestedDomain.CS_DOMAIN:
        parts.cs_location_unavailable = True
        return False
    if query.named(RequestedNodes.SGSN):
        parts.ps_location_unavailable = True
    if not query.asks(RequestedNodes.MME):
        return False
    mme = _live(serving.mme if serving else None)
    if mme is None or query.time_zone_only:
        parts.eps_location = EpsLocation()
        return False
    age = None if query.serving_node_only else _age_minutes(mme.updated_at, now)
    parts.eps_location = EpsLocation(mme.host, age)
    return True


def _age_minutes(updated_at: dt.datetime | None, now: dt.datetime) -> int | None:
    if updated_at is None:
        return None
    minutes = int((now - updated_at).total_seconds() // 60)
    return min(max(minutes, 0), MAX_AGE_MINUTES)
