"""Cx/Dx (TS 29.228 procedures, TS 29.229 protocol): UAR, MAR, SAR and LIR answered; RTR and PPR sent.

UAR, MAR, SAR and LIR run as items of the HSS's batch worker (`sigcore.store.batch`, shared with S6a when
``sigcore run`` installs both; see `sigcore.hss.cx.transaction`): each is one joined read of the IMPU, its
implicit set and their IMPIs (`ImsStore.registration_view`) plus cached profiles, a decision by
`sigcore.hss.cx.assignment`, and a write only when the stored state changes, all in the batch's single
transaction. AKA vectors come from S6a's own SQN reservation (`sigcore.hss.auth.SqnReservation`) run in the
same transaction, so an IMS and an EPS authentication of one USIM never reuse a sequence number, and they
are computed only after the commit. RTR/PPR (rare, HSS-initiated) use the thread pool (`Worker`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import Connection

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.aio import Node, RequestContext
from sigcore.diameter.answers import result_of
from sigcore.diameter.application import Application, Rejected, answer, experimental_3gpp
from sigcore.diameter.avp import Avp
from sigcore.diameter.constants import VENDOR_3GPP, ResultCode
from sigcore.diameter.errors import DiameterError
from sigcore.diameter.message import Message
from sigcore.hss.application import application_avps, hss_application, hss_request, request_to_host
from sigcore.hss.auth import AuthService, VectorRequest, Vectors
from sigcore.hss.cx import assignment
from sigcore.hss.cx.transaction import AfterCommit, AnswerAvp, CxBatch, CxItem, NeedsSqns
from sigcore.hss.ims.codes import CX_APP, CxCommand, CxResult, ReasonCode
from sigcore.hss.ims.documents import ProfileGroup, ims_subscription
from sigcore.hss.ims.request_fields import bounded, first_values, need, text
from sigcore.hss.ims.threads import Worker
from sigcore.log_limit import RateLimitedLog
from sigcore.store.batch import BatchWorker, DatabaseFailed
from sigcore.store.ims import ImsStore, PrivateIdentity, PublicIdentity, RegistrationView, RegState
from sigcore.store.store import Store

log = logging.getLogger("sigcore.hss.cx.handlers")
limited_log = RateLimitedLog(log)

AKA_SCHEMES = ("Digest-AKAv1-MD5", "Digest-AKAv2-MD5")
DIGEST_SCHEME = "SIP Digest"
# What S-CSCFs put in a MAR for plain digest: TS 29.229's name, RFC 4740's, and Kamailio's ("Digest-MD5").
_DIGEST_ALIASES = {DIGEST_SCHEME.lower(), "digest", "digest-md5", "md5"}
_UNKNOWN_SCHEME = "unknown"
_AUTS_OFFSET = 16  # SIP-Authorization for resync = RAND (16) || AUTS (14), TS 29.229 §6.3.12
_AUTS_LEN = 14
# The request AVPs each handler reads (`first_values`: one pass over the request).
_ORIGIN = ("Origin-Host", "Origin-Realm")
_UAR_FIELDS = ("User-Name", "Public-Identity", "Visited-Network-Identifier", "User-Authorization-Type")
_MAR_FIELDS = ("User-Name", "Public-Identity", "Server-Name", "SIP-Auth-Data-Item", "SIP-Number-Auth-Items", *_ORIGIN)
_SAR_FIELDS = ("User-Name", "Wildcarded-Public-Identity", "Server-Name", "Server-Assignment-Type",
               "User-Data-Already-Available", *_ORIGIN)
_SAR_PUBLIC = ("Public-Identity",)  # a SAR may name several
_LIR_FIELDS = ("Public-Identity",)
APPLICATION_AVPS = application_avps(CX_APP)
__all__ = ["CxService", "CxSettings", "charging_items", "has_unregistered_services"]


@dataclass(slots=True)
class CxSettings:
    """``home_networks``: Visited-Network-Identifier values that are not roaming (the HSS realm is one)."""

    home_networks: tuple[str, ...] = ()
    max_auth_items: int = 10
    qop: str = "auth"


def has_unregistered_services(ims: ImsStore, impu: PublicIdentity, conn: Connection | None = None) -> bool:
    """Services for the unregistered state: an iFC of the unregistered profile part or case (TS 29.228 B.2.2).

    Kept in the profile cache (every SAR and LIR asks), so it is as current as the profile itself."""
    key = ("unregistered-services", impu.profile_id)
    found: bool | None = ims.cache.get(key)
    if found is None:
        profile = ims.profile(impu.profile_id, conn)
        shared = [i for s in profile.shared_ifc_sets for i in ims.shared_ifcs(s, conn)]
        found = ims.cache.put(key, any(i.profile_part == 1 or i.session_case == 2 for i in [*profile.ifcs, *shared]))
    return found


class CxService:
    """The Cx/Dx application of the HSS: a handler per command (``application()``), RTR/PPR on `node`."""

    def __init__(self, store: Store, settings: CxSettings | None = None, worker: Worker | None = None,
                 auth: AuthService | None = None, node: Node | None = None) -> None:
        """``auth``: S6a's `AuthService` (its batch worker and SQN reservation are shared); else an own one.
        ``node``: where RTR/PPR are sent from."""
        self.store = store
        self.ims = ImsStore(store)
        self.settings = settings or CxSettings()
        self.worker = worker or Worker(name="cx")
        self._own_batch = auth is None
        self.auth = auth or AuthService(store, BatchWorker(store))
        self.batch: BatchWorker = self.auth.worker
        self.kind = CxBatch(self.auth.kind, self.ims)
        self.node = node
        if not self.settings.home_networks and node is not None:  # the HSS's own realm is never roaming
            self.settings.home_networks = (node.identity.origin_realm,)
        #: Called with the IMPUs whose registration state a SAR changed (Sh notifies its subscribers).
        self.on_registration_change: Callable[[list[PublicIdentity]], Awaitable[None]] | None = None

    def application(self) -> Application:
        """Cx/Dx with a handler per command, for ``install(node)``."""
        app = hss_application(CX_APP, "Cx/Dx")
        for command, handler in (("UAR", self.uar), ("MAR", self.mar), ("SAR", self.sar), ("LIR", self.lir)):
            app.add(command, handler)
        return app

    async def close(self) -> None:
        """Stop the batch worker if this service made it (a shared one is stopped by its owner)."""
        if self._own_batch:
            await self.batch.stop()

    async def _serve(self, req: Message, ctx: RequestContext, names: tuple[str, ...],
                     work: Callable[[Connection, dict[str, Any]], Any], repeated: tuple[str, ...] = ()) -> Message:
        """``work(conn, fields)`` on the batch worker, ``fields`` being the request's ``names`` AVPs
        (`first_values`)."""
        fields = first_values(req, names, repeated)
        public = fields.get("Public-Identity")
        if type(public) is list:
            public = public[0] if public else None
        item = CxItem(lambda conn: work(conn, fields), text(public) if public is not None else None)
        try:
            avps, result, changed = await self.batch.submit(self.kind, item)
        except Rejected as err:
            log.info("Cx command %d answered %s: %s", req.code, err.result_code, err)
            raise
        except DatabaseFailed as err:  # logged by the batch worker, rate-limited
            raise Rejected(ResultCode.UNABLE_TO_COMPLY, str(err)) from None
        if changed and self.on_registration_change is not None:
            await self.on_registration_change(changed)
        if isinstance(result, CxResult):
            return answer(req, ctx.node.identity, None, [*APPLICATION_AVPS, *avps], experimental=(VENDOR_3GPP, result))
        return answer(req, ctx.node.identity, result, [*APPLICATION_AVPS, *avps])

    async def uar(self, req: Message, ctx: RequestContext) -> Message:
        return await self._serve(req, ctx, _UAR_FIELDS, self._uar)

    async def mar(self, req: Message, ctx: RequestContext) -> Message:
        return await self._serve(req, ctx, _MAR_FIELDS, self._mar)

    async def sar(self, req: Message, ctx: RequestContext) -> Message:
        return await self._serve(req, ctx, _SAR_FIELDS, self._sar, _SAR_PUBLIC)

    async def lir(self, req: Message, ctx: RequestContext) -> Message:
        return await self._serve(req, ctx, _LIR_FIELDS, self._lir)

    # --- identities ----------------------------------------------------------------------------
    def _identities(self, conn: Connection, impi_name: str | None,
                    impu_name: str) -> tuple[PrivateIdentity | None, RegistrationView]:
        """The IMPI and IMPU named in a request: 5001 if either is unknown, 5002 if they are not linked."""
        view = self.ims.registration_view(impu_name, conn)
        if view is None:
            raise experimental_3gpp(CxResult.USER_UNKNOWN, f"unknown IMPU {impu_name}")
        if impi_name is None:
            return None, view
        impi = view.private(impi_name)
        if impi is None:
            if self.ims.find_impi(impi_name, conn) is None:
                raise experimental_3gpp(CxResult.USER_UNKNOWN, f"unknown IMPI {impi_name}")
            raise experimental_3gpp(CxResult.IDENTITIES_DONT_MATCH, f"{impu_name} does not belong to {impi_name}")
        return impi, view

    def _capabilities(self, impu: PublicIdentity, conn: Connection) -> Avp:
        profile = self.ims.profile(impu.profile_id, conn)
        items: list[tuple[str, Any]] = [("Mandatory-Capability", c) for c in profile.mandatory_capabilities]
        items += [("Optional-Capability", c) for c in profile.optional_capabilities]
        if impu.preferred_scscf:
            items.append(("Server-Name", impu.preferred_scscf))
        return D.build("Server-Capabilities", items)

    # --- UAR -----------------------------------------------------------------------------------
    def _uar(self, conn: Connection, req: dict[str, Any]) -> tuple[list[Avp], Any, list[PublicIdentity]]:
        impi, view = self._identities(conn, text(need(req, "User-Name")), text(need(req, "Public-Identity")))
        assert impi is not None
        impu = view.impu
        visited = text(req.get("Visited-Network-Identifier", b""))
        roaming_ok = impi.roaming_allowed or not visited or visited in self.settings.home_networks
        decision = assignment.authorize(list(view.members), int(req.get("User-Authorization-Type", 0)), roaming_ok)
        if decision.rejected:
            raise Rejected(ResultCode.AUTHORIZATION_REJECTED, "every identity of the set is barred")
        if decision.result in (CxResult.ROAMING_NOT_ALLOWED, CxResult.IDENTITY_NOT_REGISTERED):
            raise experimental_3gpp(decision.result, str(decision.result))
        avps = [D.build("Server-Name", decision.server_name)] if decision.server_name else []
        if decision.capabilities:
            avps.append(self._capabilities(impu, conn))
        return avps, decision.result, []

    # --- MAR -----------------------------------------------------------------------------------
    def _mar(self, conn: Connection, req: dict[str, Any]) -> AfterCommit | NeedsSqns:
        impi_name, impu_name = text(need(req, "User-Name")), text(need(req, "Public-Identity"))
        server = bounded("Server-Name", need(req, "Server-Name"))
        impi, view = self._identities(conn, impi_name, impu_name)
        assert impi is not None
        item = req.get("SIP-Auth-Data-Item")
        scheme = text(item.get("SIP-Authentication-Scheme", _UNKNOWN_SCHEME)) if item is not None else _UNKNOWN_SCHEME
        authorization = item.get("SIP-Authorization") if item is not None else None
        wanted = max(1, min(int(req.get("SIP-Number-Auth-Items", 1)), self.settings.max_auth_items))
        if scheme.lower() == _UNKNOWN_SCHEME:
            scheme = AKA_SCHEMES[0] if impi.imsi else DIGEST_SCHEME
        if scheme in AKA_SCHEMES:
            if impi.imsi is None:
                raise experimental_3gpp(CxResult.AUTH_SCHEME_NOT_SUPPORTED, f"{impi_name} has no AKA credentials")
            self._note_pending_server(conn, view, server, req)
            resync = None
            if authorization and len(authorization) >= _AUTS_OFFSET + _AUTS_LEN:
                resync = bytes(authorization[:_AUTS_OFFSET + _AUTS_LEN])
            return NeedsSqns(VectorRequest(impi.imsi, b"", utran=wanted, resync=resync),
                             partial(self._aka_answer, impi_name, impu_name, scheme))
        if scheme.lower() in _DIGEST_ALIASES:
            if impi.digest_ha1 is None or impi.digest_realm is None:
                raise experimental_3gpp(CxResult.AUTH_SCHEME_NOT_SUPPORTED, f"{impi_name} has no digest credentials")
            self._note_pending_server(conn, view, server, req)
            items = [self._digest_item(impi)]
            return AfterCommit(lambda: self._maa(impi_name, impu_name, items))
        raise experimental_3gpp(CxResult.AUTH_SCHEME_NOT_SUPPORTED, f"scheme {scheme}")

    @staticmethod
    def _maa(impi_name: str, impu_name: str,
             items: list[list[tuple[str, Any]]]) -> tuple[list[AnswerAvp], Any, list[PublicIdentity]]:
        """(name, value) pairs: the answer encodes them straight to bytes, with no Avp objects between."""
        avps: list[AnswerAvp] = [("User-Name", impi_name), ("Public-Identity", impu_name),
                                 ("SIP-Number-Auth-Items", len(items))]
        avps += [("SIP-Auth-Data-Item", i) for i in items]
        return avps, ResultCode.SUCCESS, []

    def _aka_answer(self, impi_name: str, impu_name: str, scheme: str, request: VectorRequest,
                    reserved: Any) -> AfterCommit:
        """Once the batch reserved SQNs for ``request``: the MAA, whose vectors are computed after the commit."""
        if isinstance(reserved, Exception):  # disabled subscriber, keys unavailable, SQN exhausted
            raise Rejected(ResultCode.UNABLE_TO_COMPLY,
                          f"no vectors for {request.imsi}: {type(reserved).__name__}")
        return AfterCommit(lambda: self._maa(impi_name, impu_name, self._aka_items(scheme, request, reserved)))

    def _aka_items(self, scheme: str, request: VectorRequest, reserved: Any) -> list[list[tuple[str, Any]]]:
        [vectors] = self.auth.kind.after([request], [reserved])
        assert isinstance(vectors, Vectors)
        return [[("SIP-Item-Number", number), ("SIP-Authentication-Scheme", scheme),
                 ("SIP-Authenticate", v.rand + v.autn), ("SIP-Authorization", v.xres),
                 ("Confidentiality-Key", v.ck), ("Integrity-Key", v.ik)]
                for number, v in enumerate(vectors.utran, 1)]

    def _digest_item(self, impi: PrivateIdentity) -> list[tuple[str, Any]]:
        return [("SIP-Item-Number", 1), ("SIP-Authentication-Scheme", DIGEST_SCHEME),
                ("SIP-Digest-Authenticate", [("Digest-Realm", impi.digest_realm), ("Digest-Algorithm", "MD5"),
                                             ("Digest-QoP", self.settings.qop), ("Digest-HA1", impi.digest_ha1)])]

    def _note_pending_server(self, conn: Connection, view: RegistrationView, server: str,
                             req: dict[str, Any]) -> None:
        """TS 29.228 §6.3: an S-CSCF authenticating a user that is not registered is stored for it."""
        if view.impu.reg_state in (RegState.NOT_REGISTERED, RegState.AUTH_PENDING):
            self.ims.set_registration(view.members, RegState.AUTH_PENDING, scscf_name=server,
                                      scscf_host=text(req["Origin-Host"]), scscf_realm=text(req["Origin-Realm"]),
                                      conn=conn)

    # --- SAR -----------------------------------------------------------------------------------
    def _sar(self, conn: Connection, req: dict[str, Any]) -> tuple[list[AnswerAvp], Any, list[PublicIdentity]]:
        names = [text(v) for v in req["Public-Identity"]]
        wildcard = req.get("Wildcarded-Public-Identity")
        if wildcard is not None:
            names.append(text(wildcard))
        user_name = req.get("User-Name")
        if not names and user_name is None:
            raise Rejected(ResultCode.MISSING_AVP, "neither Public-Identity nor User-Name")
        impi: PrivateIdentity | None = None
        if names:
            impi, view = self._identities(conn, text(user_name) if user_name is not None else None, names[0])
        else:
            impi = self.ims.find_impi(text(user_name), conn)
            if impi is None:
                raise experimental_3gpp(CxResult.USER_UNKNOWN, f"unknown IMPI {text(user_name)}")
            own = self.ims.impus_of(impi, conn)
            first = next((i for i in own if i.reg_state != RegState.NOT_REGISTERED), own[0])
            found = self.ims.registration_view(first.impu, conn)
            assert found is not None
            view = found
        impu = view.impu
        sat = int(need(req, "Server-Assignment-Type"))
        server = bounded("Server-Name", need(req, "Server-Name"))
        unreg_services = has_unregistered_services(self.ims, impu, conn)
        decision = assignment.server_assignment(sat, impu, server, unreg_services,
                                                int(req.get("User-Data-Already-Available", 0)) == 1)
        if decision.unable_to_comply:
            raise Rejected(ResultCode.UNABLE_TO_COMPLY, "NO_ASSIGNMENT from another S-CSCF")
        if decision.error is not None:
            raise experimental_3gpp(decision.error, f"assignment type {sat}")
        changed: list[PublicIdentity] = []
        if decision.new_state is not None:
            sets = [view.members] + [v.members for n in names[1:]
                                     if (v := self.ims.registration_view(n, conn)) is not None]
            keep = decision.keep_server
            for members in {m[0].implicit_set: m for m in sets}.values():
                changed += [m for m in members if m.reg_state != decision.new_state]
                self.ims.set_registration(
                    members, decision.new_state, scscf_name=server if keep else None,
                    scscf_host=text(req["Origin-Host"]) if keep else None,
                    scscf_realm=text(req["Origin-Realm"]) if keep else None, conn=conn)
        private = impi.impi if impi is not None else view.impis()[0]
        avps: list[AnswerAvp] = [("User-Name", private)]
        if decision.send_user_data:
            avps += self.profile_avps(private, impu, view.members, conn)
        others = [i for i in view.impis() if i != private]
        if others:
            avps.append(("Associated-Identities", [("User-Name", i) for i in others]))
        if impu.wildcard:
            avps.append(("Wildcarded-Public-Identity", impu.impu))
        return avps, ResultCode.SUCCESS, changed

    def user_data(self, impi: str, impu: PublicIdentity, members: tuple[PublicIdentity, ...] | None = None,
                  conn: Connection | None = None) -> bytes:
        """The IMSSubscription of ``impu``'s implicit set (``members``, read if not given), one
        ServiceProfile per profile used. Cached with the profiles: a re-registration reuses the document."""
        members = members if members is not None else tuple(self.ims.implicit_set(impu, conn))
        return self._user_data(impi, members, conn)

    def _user_data(self, impi: str, members: tuple[PublicIdentity, ...], conn: Connection | None) -> bytes:
        key = ("user-data", *_document_key(impi, members))
        found: bytes | None = self.ims.cache.get(key)
        if found is not None:
            return found
        groups: dict[int, list[PublicIdentity]] = {}
        for member in members:
            groups.setdefault(member.profile_id, []).append(member)
        return self.ims.cache.put(key, ims_subscription(
            impi, [ProfileGroup(self.ims.profile(pid, conn), ids) for pid, ids in groups.items()]))

    def profile_avps(self, impi: str, impu: PublicIdentity, members: tuple[PublicIdentity, ...] | None = None,
                     conn: Connection | None = None) -> list[Avp]:
        """User-Data and (when the profile names charging functions) Charging-Information: built once per
        document and kept with it in the profile cache (an SAA then copies the AVPs' cached wire bytes)."""
        members = members if members is not None else tuple(self.ims.implicit_set(impu, conn))
        key = ("profile-avps", impu.profile_id, *_document_key(impi, members))
        found: tuple[Avp, ...] | None = self.ims.cache.get(key)
        if found is None:
            avps = [D.build("User-Data", self._user_data(impi, members, conn))]
            charging = self.ims.profile(impu.profile_id, conn).charging
            if charging:
                avps.append(D.build("Charging-Information", charging_items(charging)))
            found = self.ims.cache.put(key, tuple(avps))
        return list(found)

    # --- LIR -----------------------------------------------------------------------------------
    def _lir(self, conn: Connection, req: dict[str, Any]) -> tuple[list[Avp], Any, list[PublicIdentity]]:
        _, view = self._identities(conn, None, text(need(req, "Public-Identity")))
        impu = view.impu
        decision = assignment.locate(impu, has_unregistered_services(self.ims, impu, conn))
        if decision.result == CxResult.IDENTITY_NOT_REGISTERED:
            raise experimental_3gpp(decision.result, "not registered")
        avps = [D.build("Server-Name", decision.server_name)] if decision.server_name else []
        if decision.capabilities:
            avps.append(self._capabilities(impu, conn))
        if impu.wildcard:
            avps.append(D.build("Wildcarded-Public-Identity", impu.impu))
        return avps, decision.result or ResultCode.SUCCESS, []

    # --- HSS-initiated: RTR and PPR ------------------------------------------------------------
    async def deregister(self, impi_name: str, reason: ReasonCode = ReasonCode.PERMANENT_TERMINATION,
                         info: str = "administrative deregistration") -> list[int | None]:
        """Send an RTR to every S-CSCF serving ``impi_name``'s identities; clear them where it succeeded.

        Returns the result of each RTA (one per S-CSCF; None: not delivered, the registration is kept).
        """
        assert self.node is not None, "CxService(node=...) sends RTR/PPR"
        impi = await self.worker.run(self.ims.get_impi, impi_name)
        served = [i for i in await self.worker.run(self.ims.impus_of, impi) if i.scscf_host]
        results: list[int | None] = []
        for host, identities in _by_server(served).items():
            realm = identities[0].scscf_realm or self.node.identity.origin_realm
            avps: list[tuple[str, Any]] = [("User-Name", impi_name)]
            avps += [("Public-Identity", i.impu) for i in identities]
            avps.append(("Deregistration-Reason", [("Reason-Code", int(reason)), ("Reason-Info", info)]))
            rtr = hss_request(self.node.identity, CX_APP, CxCommand.RTR, host, realm, avps)
            rta = await self._request(rtr, host)
            result = result_of(rta) if rta is not None else None
            results.append(result)
            if result == ResultCode.SUCCESS:
                await self.worker.run(lambda ids=identities: self.ims.set_registration(
                    ids, RegState.NOT_REGISTERED, scscf_name=None, scscf_host=None, scscf_realm=None))
        return results

    async def push_profile(self, impi_name: str) -> list[int | None]:
        """Send a PPR with the current User-Data to every S-CSCF serving ``impi_name`` (after a change)."""
        assert self.node is not None, "CxService(node=...) sends RTR/PPR"
        impi = await self.worker.run(self.ims.get_impi, impi_name)
        served = [i for i in await self.worker.run(self.ims.impus_of, impi)
                  if i.scscf_host and i.reg_state in (RegState.REGISTERED, RegState.UNREGISTERED)]
        results: list[int | None] = []
        for host, identities in _by_server(served).items():
            realm = identities[0].scscf_realm or self.node.identity.origin_realm
            profile = await self.worker.run(self.profile_avps, impi_name, identities[0])
            ppr = hss_request(self.node.identity, CX_APP, CxCommand.PPR, host, realm, [("User-Name", impi_name)])
            ppr.avps.extend(profile)
            ppa = await self._request(ppr, host)
            results.append(result_of(ppa) if ppa is not None else None)
        return results

    async def _request(self, msg: Message, host: str) -> Message | None:
        """To the S-CSCF that holds the registration (`host`), whichever worker holds its connection
        (`request_to_host`). None (and one warning line saying why) when it cannot be delivered: the
        registration then stays as it is."""
        assert self.node is not None
        try:
            return await request_to_host(self.node, msg, host)
        except (DiameterError, ConnectionError, TimeoutError) as err:
            short = "RTR" if msg.code == CxCommand.RTR else "PPR"
            if isinstance(err, TimeoutError):
                reason = f"no answer within {self.node.settings.request_timeout:g} s"
            else:
                reason = str(err) or type(err).__name__
            limited_log.warning(f"cx-{short}-undelivered", "%s for IMPI %s to %s not delivered: %s", short,
                                msg.get("User-Name"), host, reason)
            return None


def charging_items(charging: dict[str, str]) -> list[tuple[str, str]]:
    names = (("ecf_primary", "Primary-Event-Charging-Function-Name"),
             ("ecf_secondary", "Secondary-Event-Charging-Function-Name"),
             ("ccf_primary", "Primary-Charging-Collection-Function-Name"),
             ("ccf_secondary", "Secondary-Charging-Collection-Function-Name"))
    return [(avp, charging[key]) for key, avp in names if charging.get(key)]


def _document_key(impi: str, members: tuple[PublicIdentity, ...]) -> tuple[Any, ...]:
    """What an IMSSubscription is made of besides the profiles: the IMPI and the members' stored identity
    (not their registration state, which the document does not carry)."""
    return (impi, tuple((m.impu, m.identity_type, m.wildcard, m.display_name, m.barred, m.profile_id)
                        for m in members))


def _by_server(identities: list[PublicIdentity]) -> dict[str, list[PublicIdentity]]:
    grouped: dict[str, list[PublicIdentity]] = {}
    for impu in identities:
        assert impu.scscf_host is not None
        grouped.setdefault(impu.scscf_host, []).append(impu)
    return grouped
