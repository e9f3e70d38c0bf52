"""S6a/S6d handlers (TS 29.272 §5.2): AIR, ULR, PUR, NOR. Each reads the request, asks the services, answers.

The work lives elsewhere: vectors and SQNs in `auth`, serving state and profiles in `registration`,
Subscription-Data in `subscription_data`, roaming in `roaming`, CLR/IDR/DSR in `notify`. Failures map to the
Experimental-Result codes of §7.4, raised as `Rejected`; every answer, errors included, carries
Vendor-Specific-Application-Id and Auth-Session-State (NO_STATE_MAINTAINED) as §7.2 shows.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.aio import RequestContext
from sigcore.diameter.application import Application, Rejected, answer, experimental_3gpp
from sigcore.diameter.avp import Avp
from sigcore.diameter.constants import ResultCode
from sigcore.diameter.errors import DiameterError, InvalidAvpValue
from sigcore.diameter.message import Message
from sigcore.hss import auc
from sigcore.hss.application import application_avps, hss_application
from sigcore.hss.auth import AuthService, VectorRequest, Vectors
from sigcore.hss.s6a.codes import (
    RAT_RESTRICTION,
    S6A,
    VENDOR,
    CancellationType,
    Command,
    PuaFlags,
    PurFlags,
    S6aResult,
    UlaFlags,
    UlrFlags,
)
from sigcore.hss.s6a.notify import HssNotifier
from sigcore.hss.s6a.registration import NodeKind, ProfileCache, ServingUpdate, ServingUpdates
from sigcore.hss.s6a.roaming import RoamingPolicyCheck, plmn_digits
from sigcore.hss.s6a.subscription_data import has_eps_subscription
from sigcore.store import KeyUnavailable, NotFound, Store, Subscriber
from sigcore.store.batch import BatchWorker, DatabaseFailed

log = logging.getLogger("sigcore.hss.s6a.handlers")
SUCCESS = int(ResultCode.SUCCESS)
SUPPORTED_FEATURES_S6A = 0  # Feature-List-ID 1 bits we implement (§7.3.10): none of the optional ones yet
RESYNC_INFO_LENGTH = 30  # RAND (16) ‖ AUTS (14)
_S6A_S6D_INDICATOR, _SKIP_SUBSCRIBER_DATA = int(UlrFlags.S6A_S6D_INDICATOR), int(UlrFlags.SKIP_SUBSCRIBER_DATA)
_ULA_FLAGS = D.build("ULA-Flags", int(UlaFlags.SEPARATION_INDICATION))
APPLICATION_AVPS = application_avps(S6A)
_PURGES: tuple[tuple[PurFlags, NodeKind, PuaFlags], ...] = (
    (PurFlags.UE_PURGED_IN_MME, "mme", PuaFlags.FREEZE_M_TMSI),
    (PurFlags.UE_PURGED_IN_SGSN, "sgsn", PuaFlags.FREEZE_P_TMSI),
)


class S6aHandlers:
    def __init__(self, store: Store, worker: BatchWorker, auth: AuthService, profiles: ProfileCache,
                 roaming: RoamingPolicyCheck, notifier: HssNotifier, max_vectors: int = 5) -> None:
        self.store = store
        self.worker = worker
        self.auth = auth
        self.profiles = profiles
        self.roaming = roaming
        self.notifier = notifier
        self.max_vectors = max_vectors
        self.serving = ServingUpdates(profiles, self._admit)

    def application(self) -> Application:
        """S6a/S6d with a handler per command, for ``install(node)``."""
        app = hss_application(S6A, "S6a/S6d")
        for command, handler in (("AIR", self.air), ("ULR", self.ulr), ("Purge-UE", self.pur), ("NOR", self.nor)):
            app.add(command, handler)
        return app

    # --- AIR ------------------------------------------------------------------------------------------
    async def air(self, req: Message, ctx: RequestContext) -> Message:
        avps, features = _pick(req, _AIR_AVPS)
        imsi = str(D.value(avps["User-Name"]))
        plmn = _plmn(avps["Visited-PLMN-Id"])
        eutran = _group(avps, "Requested-EUTRAN-Authentication-Info")
        utran = _group(avps, "Requested-UTRAN-GERAN-Authentication-Info")
        if eutran is None and utran is None:
            raise DiameterError(ResultCode.MISSING_AVP, "no Requested-EUTRAN- or -UTRAN-GERAN-Authentication-Info",
                                [D.build("Requested-EUTRAN-Authentication-Info", [])])
        resync = _resync_info(eutran, utran)
        try:
            if not self.roaming.is_home(plmn_digits(plmn)):
                await self._check_roaming(await self.profiles.get(imsi), plmn)
            wanted = VectorRequest(imsi, plmn, self._count(eutran), self._count(utran), resync)
            vectors = await self._vectors(wanted, ctx)
        except Rejected as err:
            raise _logged(req, ctx, err) from None
        except NotFound:
            raise _logged(req, ctx, experimental_3gpp(S6aResult.USER_UNKNOWN, "unknown IMSI")) from None
        except (auc.AucError, KeyUnavailable) as err:
            log.error("AIR for IMSI %s: no vectors (%s)", imsi, type(err).__name__)
            raise _logged(req, ctx, experimental_3gpp(S6aResult.AUTHENTICATION_DATA_UNAVAILABLE, "no vectors")) \
                from None
        return answer(req, ctx.node.identity, SUCCESS, [*APPLICATION_AVPS, *_supported_features(features),
                                                        D.build("Authentication-Info", _auth_info(vectors))])

    async def _vectors(self, wanted: VectorRequest, ctx: RequestContext) -> Vectors:
        """Vectors for an AIR. An AUTS whose MAC-S does not verify resets nothing, and the answer still
        carries vectors on the kept SQN (TS 33.102 §6.3.5 step 6, as Cx MAR does): the AUTS may have been
        corrupted on its way, and the MME, not the HSS, decides whether a second failure ends the attach."""
        try:
            return await self.auth.vectors(wanted)
        except auc.AutsMacError:
            log.warning("AIR for IMSI %s from %s: AUTS failed MAC-S verification, SQN kept",
                        wanted.imsi, ctx.peer.name)
            return await self.auth.vectors(replace(wanted, resync=None))

    def _count(self, group: Any) -> int:
        if group is None:
            return 0
        return max(1, min(int(group.get("Number-Of-Requested-Vectors", 1)), self.max_vectors))

    # --- ULR ------------------------------------------------------------------------------------------
    async def ulr(self, req: Message, ctx: RequestContext) -> Message:
        """The checks, the serving-node write and the profile read are one batched transaction
        (`registration.ServingUpdates`); the Subscription-Data is encoded once per stored profile version."""
        avps, features = _pick(req, _ULR_AVPS)
        imsi = str(D.value(avps["User-Name"]))
        flags = int(D.value(avps["ULR-Flags"]))  # a plain int: IntFlag arithmetic costs on every ULR
        origin_host, origin_realm = str(D.value(avps["Origin-Host"])), str(D.value(avps["Origin-Realm"]))
        node: NodeKind = "mme" if flags & _S6A_S6D_INDICATOR else "sgsn"
        update = ServingUpdate(imsi, node, origin_host, origin_realm, ctx.peer.name, _rat_type(avps["RAT-Type"]),
                               _plmn(avps["Visited-PLMN-Id"]))
        try:
            reg = await self.worker.submit(self.serving, update)
        except Rejected as err:
            raise _logged(req, ctx, err) from None
        except NotFound:
            raise _logged(req, ctx, experimental_3gpp(S6aResult.USER_UNKNOWN, "unknown IMSI")) from None
        except DatabaseFailed as err:  # logged by the batch worker, rate-limited
            raise Rejected(ResultCode.UNABLE_TO_COMPLY, str(err)) from None
        previous = reg.previous
        if previous is not None and previous.host.lower() != origin_host.lower():
            kind = (CancellationType.INITIAL_ATTACH_PROCEDURE if flags & UlrFlags.INITIAL_ATTACH
                    else CancellationType.MME_UPDATE_PROCEDURE if node == "mme"
                    else CancellationType.SGSN_UPDATE_PROCEDURE)
            self.notifier.cancel_old_node(imsi, previous, kind, s6a=node == "mme")
        body = [*APPLICATION_AVPS, *_supported_features(features), _ULA_FLAGS]
        if not flags & _SKIP_SUBSCRIBER_DATA:
            body.append(reg.profile.subscription_data())
        return answer(req, ctx.node.identity, SUCCESS, body)

    def _admit(self, conn: Connection, sub: Subscriber, update: ServingUpdate) -> None:
        """Inside the ULR's transaction, before anything is written (raises `Rejected`)."""
        assert update.rat_type is not None and update.plmn is not None
        self._check_registration(sub, update.rat_type)
        if not self.roaming.allowed(sub, update.plmn, lambda: self.store.roaming_rules_on(conn)):
            raise experimental_3gpp(S6aResult.ROAMING_NOT_ALLOWED, f"roaming in {plmn_digits(update.plmn)} not allowed")

    def _check_registration(self, sub: Subscriber, rat_type: int) -> None:
        if not sub.enabled:
            raise experimental_3gpp(S6aResult.USER_UNKNOWN, "subscriber disabled")
        restriction = RAT_RESTRICTION.get(rat_type)
        if restriction is not None and sub.access_restriction & restriction:
            raise experimental_3gpp(S6aResult.RAT_NOT_ALLOWED, f"RAT-Type {rat_type} not allowed")
        if not has_eps_subscription(sub):
            raise experimental_3gpp(S6aResult.UNKNOWN_EPS_SUBSCRIPTION, "no APN subscribed")

    async def _check_roaming(self, sub: Subscriber, plmn: bytes) -> None:
        """The AIR's roaming check (off the loop: the rules may have to be loaded)."""
        allowed = await asyncio.get_running_loop().run_in_executor(None, self.roaming.allowed, sub, plmn)
        if not allowed:
            raise experimental_3gpp(S6aResult.ROAMING_NOT_ALLOWED, f"roaming in {plmn_digits(plmn)} not allowed")

    # --- PUR ------------------------------------------------------------------------------------------
    async def pur(self, req: Message, ctx: RequestContext) -> Message:
        """§5.3.2.4: the flag is set only when the purging node is the registered one; PUA-Flags tell it
        to freeze its temporary identity. A PUR from another node is answered success without flags."""
        imsi, host = str(req["User-Name"]), str(req["Origin-Host"])
        asked = PurFlags(int(req.get("PUR-Flags", PurFlags.UE_PURGED_IN_MME)))
        loop = asyncio.get_running_loop()
        pua = PuaFlags(0)
        try:
            for purged, node, freeze in _PURGES:
                if not asked & purged:
                    continue
                if await loop.run_in_executor(None, _purge, self.store, imsi, host, node):
                    pua |= freeze
        except NotFound:
            raise _logged(req, ctx, experimental_3gpp(S6aResult.USER_UNKNOWN, "unknown IMSI")) from None
        return answer(req, ctx.node.identity, SUCCESS, [*APPLICATION_AVPS, D.build("PUA-Flags", int(pua))])

    # --- NOR ------------------------------------------------------------------------------------------
    async def nor(self, req: Message, ctx: RequestContext) -> Message:
        """§5.2.5.1.3: accepted from the registered MME/SGSN only (else 5423 UNKNOWN_SERVING_NODE)."""
        imsi, host = str(req["User-Name"]), str(req["Origin-Host"]).lower()
        try:
            serving = await asyncio.get_running_loop().run_in_executor(None, self.store.get_serving, imsi)
        except NotFound:
            raise _logged(req, ctx, experimental_3gpp(S6aResult.USER_UNKNOWN, "unknown IMSI")) from None
        if not any(n is not None and n.host.lower() == host for n in (serving.mme, serving.sgsn)):
            raise _logged(req, ctx, experimental_3gpp(S6aResult.UNKNOWN_SERVING_NODE, "not the serving node"))
        return answer(req, ctx.node.identity, SUCCESS, list(APPLICATION_AVPS))



def _logged(req: Message, ctx: RequestContext, err: Rejected) -> Rejected:
    """`err`, logged: the node answers it with the application's AVPs and the Experimental-Result."""
    log.info("%s for IMSI %s from %s: %s (%d)", Command(req.code).name, req.get("User-Name"), ctx.peer.name,
             err, err.result_code)
    return err


def _purge(store: Store, imsi: str, host: str, node: NodeKind) -> bool:
    return store.purge(imsi, host, node=node)


_FEATURES = "Supported-Features"
_AIR_AVPS = D.keys_of(("User-Name", "Visited-PLMN-Id", "Requested-EUTRAN-Authentication-Info",
                       "Requested-UTRAN-GERAN-Authentication-Info", _FEATURES))
_ULR_AVPS = D.keys_of(("User-Name", "ULR-Flags", "Origin-Host", "Origin-Realm", "RAT-Type", "Visited-PLMN-Id",
                       _FEATURES))
_REPEATED = (_FEATURES,)


def _pick(req: Message, wanted: dict[tuple[int, int], str]) -> tuple[dict[str, Avp], list[Avp]]:
    """The first AVP of each wanted name and every Supported-Features, in one pass over the request.
    The CCF check has already run: mandatory ones are there."""
    found = D.pick(req.avps, wanted, _REPEATED)
    return found, found.pop(_FEATURES)


def _group(avps: dict[str, Avp], name: str) -> Any:
    avp = avps.get(name)
    return D.value(avp) if avp is not None else None


#: RAT-Type values TS 29.212 §5.3.31 lists (the dictionary's enumeration); others get 5004.
_RAT_TYPES = frozenset(D.avp("RAT-Type").enum_names)


def _rat_type(avp: Avp) -> int:
    rat = int(D.value(avp))
    if rat not in _RAT_TYPES:
        raise InvalidAvpValue(f"RAT-Type {rat} is not a radio access type of TS 29.212 §5.3.31", [avp])
    return rat


def _plmn(avp: Avp) -> bytes:
    plmn = bytes(D.value(avp))
    try:
        plmn_digits(plmn)
    except ValueError:
        raise InvalidAvpValue("Visited-PLMN-Id is not a PLMN identity", [D.build("Visited-PLMN-Id", plmn)]) from None
    return plmn


def _resync_info(*groups: Any) -> bytes | None:
    for group in groups:
        info = group.get("Re-Synchronization-Info") if group is not None else None
        if info is not None:
            info = bytes(info)
            if len(info) != RESYNC_INFO_LENGTH:
                raise InvalidAvpValue("Re-Synchronization-Info must be RAND (16) and AUTS (14)",
                                      [D.build("Re-Synchronization-Info", info)])
            return info
    return None


def _auth_info(v: Vectors) -> list[tuple[str, Any]]:
    """One (name, children) pair per vector, E-UTRAN first: each goes straight to the Grouped encoder's
    fast path, where a list of groups under one name would take its slow one."""
    eutran = [("E-UTRAN-Vector", [("Item-Number", n), ("RAND", x.rand), ("XRES", x.xres), ("AUTN", x.autn),
                                  ("KASME", x.kasme)]) for n, x in enumerate(v.eutran, 1)]
    utran = [("UTRAN-Vector", [("Item-Number", n), ("RAND", x.rand), ("XRES", x.xres), ("AUTN", x.autn),
                               ("Confidentiality-Key", x.ck), ("Integrity-Key", x.ik)])
             for n, x in enumerate(v.utran, 1)]
    return eutran + utran


def _supported_features(received: list[Avp]) -> list[Avp]:
    """Echo Feature-List-ID 1 of the requester's Supported-Features, ANDed with what we implement (§7.3.10)."""
    for group in received:
        values = D.value(group)
        if values.get("Vendor-Id") == VENDOR and values.get("Feature-List-ID") == 1:
            ours = int(values["Feature-List"]) & SUPPORTED_FEATURES_S6A
            features = [("Vendor-Id", VENDOR), ("Feature-List-ID", 1), ("Feature-List", ours)]
            return [D.build("Supported-Features", features)]
    return []
