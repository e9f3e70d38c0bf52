"""Sh (TS 29.328 procedures, TS 29.329 protocol): UDR, PUR and SNR answered; PNR sent on a change.

Sh-User-Data (AVP 702, not Cx's User-Data 606) carries an Sh-Data XML document valid against
`schemas/ShDataType.xsd`. Only RepositoryData is writable (PUR); the other Data-References sigcore
holds are read (UDR): IMSPublicIdentity, IMSUserState, S-CSCFName, InitialFilterCriteria,
ChargingInformation, MSISDN, IMSI, IMSPrivateUserIdentity, and UserState / LocationInformation derived
from the S6a serving state (`sigcore.hss.sh.location`). Subscriptions (SNR) cover the IMS data and
RepositoryData. References sigcore has no data model for answer 5102 USER_DATA_CANNOT_BE_READ.

Notification policy: a PUR notifies the other subscribed application servers, not the one that wrote
(its PUA already carries the new sequence number); registration changes notify every subscriber.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.aio import Node, RequestContext
from sigcore.diameter.answers import result_of
from sigcore.diameter.application import Application, Rejected, answer, experimental_3gpp
from sigcore.diameter.avp import Avp
from sigcore.diameter.constants import ResultCode
from sigcore.diameter.message import Message
from sigcore.hss.application import application_avps, hss_application, hss_request, request_to_host
from sigcore.hss.ims.codes import SH_APP, DataReference, IdentitySet, ImsUserState, ShCommand, ShResult
from sigcore.hss.ims.documents import DocumentError, ShDataParts, parse_repository_updates, sh_data
from sigcore.hss.ims.request_fields import bounded, required, text
from sigcore.hss.ims.threads import Worker
from sigcore.hss.sh.location import ServingQuery, add_location, add_user_state, serving_query
from sigcore.store.base import utc_now
from sigcore.store.errors import NotFound
from sigcore.store.ims import (
    ImsStore,
    PublicIdentity,
    RegState,
    SequenceOutOfSync,
    ShSubscription,
    next_sh_sequence,
)
from sigcore.store.ims_models import URI_LEN
from sigcore.store.records import ServingState
from sigcore.store.store import Store

log = logging.getLogger("sigcore.hss.sh.handlers")

MAX_REPOSITORY_BYTES = 16384
MAX_SUBSCRIPTION = dt.timedelta(days=7)
SUBSCRIBE, UNSUBSCRIBE = 0, 1
_NOTIFIABLE = {DataReference.REPOSITORY_DATA, DataReference.IMS_USER_STATE, DataReference.S_CSCF_NAME,
               DataReference.INITIAL_FILTER_CRITERIA, DataReference.CHARGING_INFORMATION,
               DataReference.IMS_PUBLIC_IDENTITY}
APPLICATION_AVPS = application_avps(SH_APP)
_USER_STATE = {RegState.NOT_REGISTERED: ImsUserState.NOT_REGISTERED, RegState.REGISTERED: ImsUserState.REGISTERED,
               RegState.UNREGISTERED: ImsUserState.REGISTERED_UNREG_SERVICES,
               RegState.AUTH_PENDING: ImsUserState.AUTHENTICATION_PENDING}


class ShService:
    """The Sh application of the HSS: a handler per command (``application()``); ``notify`` sends PNRs from
    `node` to subscribed application servers."""

    def __init__(self, store: Store, worker: Worker | None = None, node: Node | None = None) -> None:
        self.store = store
        self.ims = ImsStore(store)
        self.worker = worker or Worker(name="sh")
        self.node = node

    def application(self) -> Application:
        """Sh with a handler per command, for ``install(node)``."""
        app = hss_application(SH_APP, "Sh")
        for command, handler in (("UDR", self.udr), ("Profile-Update", self.pur), ("SNR", self.snr)):
            app.add(command, handler)
        return app

    async def udr(self, req: Message, ctx: RequestContext) -> Message:
        return await self._serve(req, ctx, self._udr)

    async def pur(self, req: Message, ctx: RequestContext) -> Message:
        return await self._serve(req, ctx, self._pur)

    async def snr(self, req: Message, ctx: RequestContext) -> Message:
        return await self._serve(req, ctx, self._snr)

    async def _serve(self, req: Message, ctx: RequestContext, work: Any) -> Message:
        """``work(req)`` on the thread pool; then the PNRs its changes call for."""
        try:
            avps, changed = await self.worker.run(work, req)
        except Rejected as err:
            log.info("Sh command %d answered %s: %s", req.code, err.result_code, err)
            raise
        for impu, reference, service_indication in changed:
            await self.notify(impu, reference, service_indication, exclude=text(req["Origin-Host"]))
        return answer(req, ctx.node.identity, ResultCode.SUCCESS, [*APPLICATION_AVPS, *avps])

    # --- shared --------------------------------------------------------------------------------
    def _user(self, req: Message) -> PublicIdentity:
        identity = required(req, "User-Identity")
        found: PublicIdentity | None = None
        wildcard = req.get("Wildcarded-Public-Identity")
        public = identity.get("Public-Identity")
        msisdn = identity.get("MSISDN")
        if wildcard is not None:
            found = self.ims.get_impu(text(wildcard))
        elif public is not None:
            found = self.ims.get_impu(text(public))
        elif msisdn is not None:
            found = self.ims.get_impu_by_msisdn(_tbcd_or_text(msisdn))
        if found is None:
            raise experimental_3gpp(ShResult.USER_UNKNOWN, "unknown user")
        return found

    def data(self, impu: PublicIdentity, references: Sequence[int], service_indications: Sequence[str] = (),
             identity_sets: Sequence[int] = (), serving: ServingQuery | None = None) -> ShDataParts:
        """The parts of Sh-Data for ``references`` (raises `Rejected` for one sigcore does not hold);
        ``serving`` is what a UDR asks about UserState / LocationInformation (`serving_query`)."""
        parts = ShDataParts()
        for ref in references:
            if ref == DataReference.REPOSITORY_DATA:
                parts.repository = self.ims.repository_data(impu, service_indications)
            elif ref == DataReference.IMS_PUBLIC_IDENTITY:
                parts.public_identities = self._identity_set(impu, identity_sets)
            elif ref == DataReference.IMS_USER_STATE:
                parts.ims_user_state = int(_USER_STATE[impu.reg_state])
            elif ref == DataReference.S_CSCF_NAME:
                parts.scscf_name = impu.scscf_name or ""
            elif ref == DataReference.INITIAL_FILTER_CRITERIA:
                profile = self.ims.profile(impu.profile_id)
                shared = [i for s in profile.shared_ifc_sets for i in self.ims.shared_ifcs(s)]
                parts.ifcs = sorted(list(profile.ifcs) + shared, key=lambda i: i.priority)
            elif ref == DataReference.CHARGING_INFORMATION:
                parts.charging = self.ims.profile(impu.profile_id).charging
            elif ref == DataReference.MSISDN:
                msisdn = self.ims.msisdn_of(impu)
                parts.msisdns = [msisdn] if msisdn else []
            elif ref == DataReference.IMSI:
                parts.imsi = self.ims.imsi_of(impu)
                if parts.imsi is None:
                    raise experimental_3gpp(ShResult.USER_DATA_NOT_AVAILABLE, "no IMSI linked")
            elif ref == DataReference.IMS_PRIVATE_USER_IDENTITY:
                parts.private_identities = self.ims.impis_of(impu)
            elif ref in (DataReference.USER_STATE, DataReference.LOCATION_INFORMATION) and serving is not None:
                self._serving_data(parts, impu, ref, serving, only=len(references) == 1)
            else:
                raise experimental_3gpp(ShResult.USER_DATA_CANNOT_BE_READ, f"Data-Reference {ref} not held")
        if parts.scscf_name == "":
            parts.scscf_name = None
            if list(references) == [DataReference.S_CSCF_NAME]:
                raise experimental_3gpp(ShResult.USER_DATA_NOT_AVAILABLE, "no S-CSCF assigned")
        return parts

    def _serving_data(self, parts: ShDataParts, impu: PublicIdentity, ref: int, query: ServingQuery,
                      only: bool) -> None:
        """UserState / LocationInformation from S6a's record; a location that is the only reference and not
        held is DIAMETER_USER_DATA_NOT_AVAILABLE with no Sh-User-Data (TS 29.328 §6.1.1.1 step 5)."""
        serving = self._serving_state(impu)
        if ref == DataReference.USER_STATE:
            add_user_state(parts, serving, query)
        elif not add_location(parts, serving, query, utc_now()) and only:
            raise experimental_3gpp(ShResult.USER_DATA_NOT_AVAILABLE, "no location held for the requested nodes")

    def _serving_state(self, impu: PublicIdentity) -> ServingState | None:
        """What S6a recorded for the subscriber behind ``impu`` (None: no IMSI linked, or no subscriber)."""
        imsi = self.ims.imsi_of(impu)
        if imsi is None:
            return None
        try:
            return self.store.get_serving(imsi)
        except NotFound:
            return None

    def _identity_set(self, impu: PublicIdentity, sets: Sequence[int]) -> list[str]:
        members = self.ims.implicit_set(impu)
        if IdentitySet.REGISTERED_IDENTITIES in sets:
            members = [m for m in members if m.reg_state == RegState.REGISTERED]
        if IdentitySet.ALL_IDENTITIES in sets:
            owners = [self.ims.get_impi(i) for i in self.ims.impis_of(impu)]
            members = list({m.impu: m for o in owners for m in self.ims.impus_of(o)}.values())
        return [m.impu for m in members]

    # --- UDR -----------------------------------------------------------------------------------
    def _udr(self, req: Message) -> tuple[list[Avp], list[Any]]:
        impu = self._user(req)
        references = [int(r) for r in D.get_values(req.avps, "Data-Reference")]
        sis = [text(s) for s in D.get_values(req.avps, "Service-Indication")]
        sets = [int(s) for s in D.get_values(req.avps, "Identity-Set")]
        parts = self.data(impu, references, sis, sets, serving_query(req, references))
        if references == [DataReference.REPOSITORY_DATA] and not parts.repository:
            raise experimental_3gpp(ShResult.USER_DATA_NOT_AVAILABLE, "no repository data")
        return [D.build("Sh-User-Data", sh_data(parts))], []

    # --- PUR -----------------------------------------------------------------------------------
    def _pur(self, req: Message) -> tuple[list[Avp], list[Any]]:
        impu = self._user(req)
        if int(required(req, "Data-Reference")) != DataReference.REPOSITORY_DATA:
            raise experimental_3gpp(ShResult.USER_DATA_CANNOT_BE_MODIFIED, "only RepositoryData is writable")
        document = bytes(required(req, "Sh-User-Data"))
        try:
            updates = parse_repository_updates(document)
        except DocumentError as err:
            raise experimental_3gpp(ShResult.USER_DATA_NOT_RECOGNIZED, str(err)) from None
        if not updates:
            raise experimental_3gpp(ShResult.USER_DATA_NOT_RECOGNIZED, "no RepositoryData")
        for update in updates:  # every one checked before any is written: a PUR applies whole or not at all
            if update.data is not None and len(update.data) > MAX_REPOSITORY_BYTES:
                raise experimental_3gpp(ShResult.TOO_MUCH_DATA, f"{len(update.data)} octets")
            if len(update.service_indication) > URI_LEN:  # the row keeps it in as many characters
                raise experimental_3gpp(ShResult.USER_DATA_NOT_RECOGNIZED,
                                        f"ServiceIndication longer than {URI_LEN} characters")
        try:
            self.ims.put_repository_updates(impu, [(u.service_indication, u.sequence, u.data) for u in updates])
        except SequenceOutOfSync as err:
            raise experimental_3gpp(ShResult.TRANSPARENT_DATA_OUT_OF_SYNC, str(err)) from None
        avps: list[Avp] = [D.build("Repository-Data-ID", [("Service-Indication", u.service_indication.encode()),
                                                          ("Sequence-Number", u.sequence)]) for u in updates]
        changed = [(impu, DataReference.REPOSITORY_DATA, u.service_indication) for u in updates]
        avps.append(D.build("Data-Reference", DataReference.REPOSITORY_DATA))
        return avps, changed

    # --- SNR -----------------------------------------------------------------------------------
    def _snr(self, req: Message) -> tuple[list[Avp], list[Any]]:
        impu = self._user(req)
        references = [int(r) for r in D.get_values(req.avps, "Data-Reference")]
        sis = [bounded("Service-Indication", s) for s in D.get_values(req.avps, "Service-Indication")]
        as_host, as_realm = text(req["Origin-Host"]), text(req["Origin-Realm"])
        if any(r not in _NOTIFIABLE for r in references):
            raise experimental_3gpp(ShResult.USER_DATA_CANNOT_BE_NOTIFIED, f"Data-References {references}")
        keys = [(r, si) for r in references for si in (sis if r == DataReference.REPOSITORY_DATA and sis else [""])]
        if int(required(req, "Subs-Req-Type")) == UNSUBSCRIBE:
            removed = [self.ims.unsubscribe(impu, as_host, r, si) for r, si in keys]
            if not any(removed):
                raise experimental_3gpp(ShResult.NO_SUBSCRIPTION_TO_DATA, "nothing to unsubscribe")
            return [], []
        if DataReference.REPOSITORY_DATA in references and sis:
            held = {r.service_indication for r in self.ims.repository_data(impu, sis)}
            if not held:
                raise experimental_3gpp(ShResult.SUBS_DATA_ABSENT, f"no repository data for {sis}")
        expiry = _granted_expiry(req.get("Expiry-Time"))
        one_time = req.get("One-Time-Notification") is not None
        for ref, si in keys:
            self.ims.subscribe(ShSubscription(impu.impu, as_host, as_realm, ref, si, expiry, one_time))
        avps = [D.build("Expiry-Time", expiry)] if expiry is not None else []
        if int(req.get("Send-Data-Indication", 0)) == 1:
            avps.insert(0, D.build("Sh-User-Data", sh_data(self.data(impu, references, sis))))
        return avps, []

    # --- PNR -----------------------------------------------------------------------------------
    async def notify(self, impu: PublicIdentity, reference: int, service_indication: str | None = None,
                     exclude: str | None = None) -> list[int | None]:
        """Send a PNR with the current data to every AS subscribed to ``reference`` of ``impu``."""
        assert self.node is not None, "ShService(node=...) sends PNRs"
        subs = await self.worker.run(self.ims.subscriptions, impu, reference, service_indication)
        results: list[int | None] = []
        for sub in subs:
            if sub.as_host == exclude:
                continue
            current = await self.worker.run(self.ims.get_impu, impu.impu)
            sis = [service_indication] if service_indication else []
            parts = await self.worker.run(self.data, current or impu, [reference], sis)
            pnr = hss_request(self.node.identity, SH_APP, ShCommand.PNR, sub.as_host, sub.as_realm,
                              [("User-Identity", [("Public-Identity", impu.impu)]),
                               ("Sh-User-Data", sh_data(parts))])
            try:
                results.append(result_of(await request_to_host(self.node, pnr, sub.as_host)))
            except Exception as err:
                log.warning("PNR to %s failed: %s", sub.as_host, err)
                results.append(None)
        return results

    async def registration_changed(self, identities: Sequence[PublicIdentity]) -> None:
        """Cx changed the state of these IMPUs: notify IMSUserState and S-CSCFName subscribers."""
        for impu in identities:
            for ref in (DataReference.IMS_USER_STATE, DataReference.S_CSCF_NAME):
                await self.notify(impu, ref)

    async def put_repository_data(self, impu_name: str, service_indication: str, data: bytes | None) -> None:
        """Provisioning write of repository data (next sequence number), notifying every subscriber."""
        impu = await self.worker.run(self.ims.get_impu, impu_name)
        if impu is None:
            raise LookupError(impu_name)
        stored = await self.worker.run(self.ims.repository_data, impu, [service_indication])
        sequence = next_sh_sequence(stored[0].sequence) if stored else 0
        await self.worker.run(self.ims.put_repository_data, impu, service_indication, sequence, data)
        await self.notify(impu, DataReference.REPOSITORY_DATA, service_indication)


def _granted_expiry(requested: Any) -> dt.datetime | None:
    """TS 29.328 §6.1.3: the HSS may shorten the requested expiry; sigcore caps it at a week."""
    limit = utc_now() + MAX_SUBSCRIPTION
    if requested is None:
        return limit
    when = requested if isinstance(requested, dt.datetime) else dt.datetime.fromtimestamp(float(requested), dt.UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return min(when, limit)


def _tbcd_or_text(value: Any) -> str:
    """MSISDN is TBCD octets on Sh (TS 29.329 §6.3.2); tolerate a client sending digits as text."""
    raw = bytes(value)
    if raw.isdigit():
        return raw.decode()
    digits = []
    for octet in raw:
        for nibble in (octet & 0x0F, octet >> 4):
            if nibble < 10:
                digits.append(str(nibble))
    return "".join(digits)

