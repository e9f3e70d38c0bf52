"""SLh (TS 29.173): a GMLC asks the HSS which nodes serve a subscriber, to route a location request.

LCS-Routing-Info-Request (RIR, command 8388622, application 16777291) names the subscriber by IMSI
(User-Name) and/or MSISDN (TBCD). The HSS checks, in the order of §5.2.1.2 — and stops at the first
failure:

1. the GMLC's network may ask (`GmlcPolicy`), else Experimental-Result 5490
   DIAMETER_ERROR_UNAUTHORIZED_REQUESTING_NETWORK. Checked first, so an unauthorised GMLC cannot probe
   which subscribers exist;
2. the subscriber exists, else 5001 DIAMETER_ERROR_USER_UNKNOWN; with both IMSI and MSISDN they must
   name the same subscriber, else Result-Code 5007 DIAMETER_CONTRADICTING_AVPS;
3. at least one serving node is registered (not purged), else 4201 DIAMETER_ERROR_ABSENT_USER.

The answer (RIA) then carries User-Name and MSISDN, Serving-Node (the MME when there is one, else the
SGSN) and Additional-Serving-Node (the SGSN when both are registered). No LMSI (sigcore has no VLR),
MSC, 3GPP AAA server, GMLC or PPR address: sigcore does not store them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from sigcore.diameter import DICTIONARY
from sigcore.diameter.aio import RequestContext
from sigcore.diameter.answers import Identity
from sigcore.diameter.application import Application, Rejected, answer, experimental_3gpp
from sigcore.diameter.avp import Avp
from sigcore.diameter.constants import AppId, ResultCode
from sigcore.diameter.message import Message
from sigcore.hss.application import AUTH_SESSION_STATE, hss_application
from sigcore.store import NotFound, ServingNode, ServingState, Store, StoreError, Subscriber
from sigcore.toolkit import tbcd

log = logging.getLogger("sigcore.hss.slh.handlers")

SLH = int(AppId.SLH)
RIR = 8388622
USER_UNKNOWN = 5001  # TS 29.229 §6.2.2.1, used by TS 29.173 §6.3.3
UNAUTHORIZED_REQUESTING_NETWORK = 5490  # TS 29.173 §6.3.4.2
ABSENT_USER = 4201  # TS 29.173 §6.3.4.1 (transient)
# LCS-Capabilities-Sets (TS 29.173 §7.4.5) uses the bits of TS 29.002 SupportedLCS-CapabilitySets;
# an SGSN registered over S6d is an S4-SGSN and supports capability set 5 (LCS release 7 or later).
LCS_CAPABILITY_SET_5 = 1 << 4
E164_MAX_DIGITS = 15


@dataclass(frozen=True, slots=True)
class GmlcPolicy:
    """Which GMLCs may ask: those of our own realm, plus any Origin-Host or Origin-Realm listed in
    `allowed` (case-insensitive; ``"*"`` allows every network)."""

    home_realm: str
    allowed: frozenset[str] = frozenset()

    @classmethod
    def of(cls, home_realm: str, allowed: Iterable[str] = ()) -> GmlcPolicy:
        return cls(home_realm.lower(), frozenset(name.lower() for name in allowed))

    def allows(self, origin_host: str, origin_realm: str) -> bool:
        realm = origin_realm.lower()
        return (realm == self.home_realm or "*" in self.allowed
                or origin_host.lower() in self.allowed or realm in self.allowed)


@dataclass(frozen=True, slots=True)
class Located:
    """What the store says about the subscriber of one RIR (read in a worker thread)."""

    subscriber: Subscriber | None
    serving: ServingState | None = None
    contradicting: bool = False


def _serving_pairs(node: ServingNode, kind: str) -> list[tuple[str, Any]]:
    realm = node.realm or node.host.partition(".")[2] or node.host
    if kind == "mme":
        return [("MME-Name", node.host), ("MME-Realm", realm)]  # no LCS-Capabilities-Sets for an MME (§5.2.1.2)
    return [("SGSN-Name", node.host), ("SGSN-Realm", realm), ("LCS-Capabilities-Sets", LCS_CAPABILITY_SET_5)]


def serving_node_avps(serving: ServingState) -> list[Avp]:
    """Serving-Node for the first registered node (MME, then SGSN), Additional-Serving-Node for the other."""
    nodes = [(kind, node) for kind, node in (("mme", serving.mme), ("sgsn", serving.sgsn))
             if node is not None and not node.purged]
    return [DICTIONARY.build("Serving-Node" if i == 0 else "Additional-Serving-Node", _serving_pairs(node, kind))
            for i, (kind, node) in enumerate(nodes)]


def _msisdn_digits(raw: bytes) -> str | None:
    """The E.164 digits of a TBCD MSISDN (TS 29.329 §6.3.2), or None when it is not one."""
    try:
        digits = tbcd.decode(raw)
    except ValueError:
        return None
    return digits if digits.isdigit() and len(digits) <= E164_MAX_DIGITS else None


class SlhServer:
    """The HSS's SLh application: `rir` handles LCS-Routing-Info-Request (``application()``)."""

    def __init__(self, store: Store, identity: Identity, gmlcs: GmlcPolicy | None = None) -> None:
        self.store = store
        self.identity = identity
        self.gmlcs = gmlcs or GmlcPolicy.of(identity.origin_realm)

    def application(self) -> Application:
        """SLh with its one handler, for ``install(node)``."""
        app = hss_application(SLH, "SLh", vendor_specific_id=False)
        app.add("RIR", self.rir)
        return app

    async def rir(self, request: Message, _ctx: RequestContext | None = None) -> Message:
        if not self.gmlcs.allows(request["Origin-Host"], request["Origin-Realm"]):
            log.info("RIR from %s (%s) refused: not an authorised GMLC", request["Origin-Host"],
                     request["Origin-Realm"])
            raise experimental_3gpp(UNAUTHORIZED_REQUESTING_NETWORK)
        imsi = request.get("User-Name")
        raw_msisdn = request.get("MSISDN")
        if imsi is None and raw_msisdn is None:
            raise Rejected(ResultCode.MISSING_AVP, "User-Name or MSISDN is required",
                           failed_avps=[DICTIONARY.avp("User-Name").example()])
        msisdn = None
        if raw_msisdn is not None:
            msisdn = _msisdn_digits(raw_msisdn)
            if msisdn is None:
                raise Rejected(ResultCode.INVALID_AVP_VALUE, "MSISDN: not a TBCD-coded E.164 number",
                               failed_avps=[DICTIONARY.build("MSISDN", raw_msisdn)])
        try:
            found = await asyncio.get_running_loop().run_in_executor(None, self.locate, imsi, msisdn)
        except (StoreError, SQLAlchemyError):
            log.exception("SLh lookup failed")
            raise Rejected(ResultCode.UNABLE_TO_COMPLY) from None
        return self._answer(request, found)

    def locate(self, imsi: str | None, msisdn: str | None) -> Located:
        """The subscriber named by IMSI and/or MSISDN and where it is served (blocking store calls)."""
        try:
            by_imsi = self.store.get_subscriber(imsi) if imsi is not None else None
            by_msisdn = self.store.get_subscriber_by_msisdn(msisdn) if msisdn is not None else None
        except NotFound:
            return Located(None)
        if by_imsi is not None and by_msisdn is not None and by_imsi.imsi != by_msisdn.imsi:
            return Located(by_imsi, contradicting=True)
        subscriber = by_imsi or by_msisdn
        assert subscriber is not None
        return Located(subscriber, self.store.get_serving(subscriber.imsi))

    def _answer(self, request: Message, found: Located) -> Message:
        if found.subscriber is None:
            raise experimental_3gpp(USER_UNKNOWN)
        if found.contradicting:
            raise Rejected(ResultCode.CONTRADICTING_AVPS, "User-Name and MSISDN name different subscribers")
        nodes = serving_node_avps(found.serving) if found.serving is not None else []
        if not nodes:
            raise experimental_3gpp(ABSENT_USER)
        sub = found.subscriber
        identities = [DICTIONARY.build("User-Name", sub.imsi)]
        if sub.msisdn:
            identities.append(DICTIONARY.build("MSISDN", tbcd.encode(sub.msisdn)))
        return answer(request, self.identity, ResultCode.SUCCESS, [*identities, *nodes, AUTH_SESSION_STATE])
