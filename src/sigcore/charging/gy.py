"""Diameter Gy/Ro (RFC 4006 Credit-Control application, TS 32.299): CCR-I/U/T/Event against the accounts.

The account is found by Subscription-Id: each (type, data) pair is looked up in the Subscription-Id map
(`sigcore account map`, kept next to the subscriber store), then as an account named by the data itself,
then by the other identity the HSS's subscriber pairs with an IMSI or MSISDN (`ChargingStore.resolve`);
E.164 and IMSI may both be present, the first that resolves wins. Requested units default by service:
Service-Context-Id 32260 (IMS) asks time, 32274 (SMS) service-specific units, anything else octets.
RAR is sent to the sessions of an account that was topped up, ASR to those of an account disabled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection

from sigcore.charging import ccr
from sigcore.charging import sessions as gy_sessions
from sigcore.charging.ccr import CreditAnswer, CreditRequest, ServiceRequest, ServiceResult, Units
from sigcore.charging.engine import ChargingEngine
from sigcore.charging.executor import MustBlock
from sigcore.charging.model import Account
from sigcore.charging.tables import IDENTITY_LEN
from sigcore.config import GyConfig
from sigcore.diameter.answers import answer
from sigcore.diameter.application import Application, Rejected
from sigcore.diameter.constants import FLAG_PROXIABLE, FLAG_REQUEST, ResultCode
from sigcore.diameter.dictionary import DICTIONARY as D
from sigcore.diameter.message import Message
from sigcore.periodic import Periodic
from sigcore.store.batch import BatchKind, BatchWorker
from sigcore.store.checkpoint import WalCheckpointer

if TYPE_CHECKING:
    from sigcore.charging.service import Charging
    from sigcore.diameter.aio.node import Node, RequestContext
    from sigcore.store import Store

log = logging.getLogger("sigcore.charging.gy")
CREDIT_CONTROL = 4
RAR, ASR = 258, 274
NS_PER_SECOND = Decimal(1_000_000_000)
TIME, OCTETS, UNITS = "CC-Time", "CC-Total-Octets", "CC-Service-Specific-Units"
_CCR_AVPS = D.keys_of(["Session-Id", "CC-Request-Type", "CC-Request-Number", "Subscription-Id", "Origin-Host",
                       "Origin-Realm", "Multiple-Services-Credit-Control", "Requested-Service-Unit",
                       "Used-Service-Unit", "Service-Context-Id", "Requested-Action", "User-Name"])
_REPEATED = ("Subscription-Id", "Multiple-Services-Credit-Control", "Used-Service-Unit")


class GyService:
    def __init__(self, node: Node, charging: Charging, cfg: GyConfig, workers: int = 16,
                 shared: BatchWorker | None = None) -> None:
        self.node = node
        self.tenant = charging.cfg.default_tenant  # of accounts found by name (Subscription-Id-Data)
        self.engine = charging.engine
        self.store = charging.engine.store
        self.cfg = cfg
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="charging-gy")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sweeper = Periodic(self._sweep_step, min(cfg.session_timeout / 4, 5.0), "charging-gy-sweeper")
        self.batch = _CreditBatch(self.engine, cfg.session_timeout)
        # On SQLite: the HSS's batch worker when it runs in this process (one kept connection, one gate
        # that its WAL checkpointer also holds), else one of our own with its own checkpointer.
        self.worker: BatchWorker | None = None
        self._own: tuple[BatchWorker, WalCheckpointer] | None = None
        if shared is not None:
            self.worker = shared
        elif self.store.store.engine.dialect.name == "sqlite":
            store = cast("Store", self.store.store)
            self.worker = BatchWorker(store)
            self._own = (self.worker, WalCheckpointer(store, gate=self.worker.gate))
        if self.worker is not None:
            self.store.gate = self.worker.gate  # the other writers take turns with the loop's batches
        self.engine.on_account_change = self._account_changed

    def install(self) -> None:
        app = Application(CREDIT_CONTROL, name="Diameter Credit-Control (Gy/Ro)")
        app.add("CCR", self.ccr)
        app.install(self.node)

    # --- CCR -------------------------------------------------------------------------------------
    async def ccr(self, req: Message, ctx: RequestContext) -> Message:
        avps = D.pick(req.avps, _CCR_AVPS, _REPEATED)
        session_id, origin_host = str(D.value(avps["Session-Id"])), str(D.value(avps["Origin-Host"]))
        for name, value in (("Session-Id", session_id), ("Origin-Host", origin_host)):
            if len(value) > IDENTITY_LEN:  # the session's row keeps both in IDENTITY_LEN characters
                raise Rejected(ResultCode.INVALID_AVP_VALUE, f"{name} longer than {IDENTITY_LEN} characters",
                               failed_avps=[avps[name]])
        request_type = int(D.value(avps["CC-Request-Type"]))
        number = int(D.value(avps["CC-Request-Number"]))
        base = [("Auth-Application-Id", CREDIT_CONTROL), ("CC-Request-Type", request_type),
                ("CC-Request-Number", number)]
        context = str(D.value(avps["Service-Context-Id"])) if "Service-Context-Id" in avps else ""
        action = int(D.value(avps["Requested-Action"])) if "Requested-Action" in avps else ccr.DIRECT_DEBITING
        credit_req = CreditRequest(
            session_id, request_type, self.tenant, "", origin_host,
            str(D.value(avps["Origin-Realm"])), ctx.peer.name, self._services(avps, context, request_type), action,
            self._subscription_ids(avps), number, req.end_to_end)
        result = await self._submit(credit_req)
        if result.result_code == ccr.USER_UNKNOWN:
            return answer(req, self.node.identity, ccr.USER_UNKNOWN, base,
                          error_message="no account for the Subscription-Id")
        if result.balance_left is not None:  # CHECK_BALANCE (RFC 4006 §8.6: ENOUGH_CREDIT 0, NO_CREDIT 1)
            base.append(("Check-Balance-Result", 0 if result.balance_left else 1))
        if not avps["Multiple-Services-Credit-Control"] and len(result.services) == 1:
            return self._single_service(req, result, credit_req, base)
        return answer(req, self.node.identity, result.result_code, base + self._mscc(result, credit_req))

    def _single_service(self, req: Message, result: CreditAnswer, credit_req: CreditRequest,
                        base: list[Any]) -> Message:
        """A CCR without MSCC (Requested/Used-Service-Unit at the command level: a client without multiple
        services, RFC 4006 §5.1.2) is answered at the command level too, where it looks: Granted-Service-Unit,
        Validity-Time, Final-Unit-Indication, and the service's Result-Code (4012 when nothing is left)."""
        svc = result.services[0]
        code = svc.result_code if result.result_code == ccr.SUCCESS else result.result_code
        return answer(req, self.node.identity, code, base + self._one_mscc(svc, credit_req, in_mscc=False))

    async def _submit(self, request: CreditRequest) -> CreditAnswer:
        """On SQLite (one writer at a time) the HSS's way: CCRs queue for the next batch, which runs on the
        event loop itself in one transaction on a kept connection (`BatchWorker`, inline): no thread hop,
        no pool checkout, one commit for all the CCRs read in one loop turn. A CCR that must block (a
        trigger's synchronous ``*http_post``) runs again alone on a worker thread. On a server database:
        its own transaction on a worker thread, several at once; a CCR locks one account row, so
        concurrent ones cannot deadlock (a batch locking several could)."""
        if self.worker is not None:
            try:
                return await self.worker.submit(self.batch, request)
            except MustBlock:
                pass
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, ccr.apply, self.engine, request, self.cfg.session_timeout)

    @staticmethod
    def _subscription_ids(avps: dict[str, Any]) -> list[tuple[int, str]]:
        ids = []
        for sub in avps["Subscription-Id"]:
            group = D.value(sub)
            ids.append((int(group["Subscription-Id-Type"]), str(group["Subscription-Id-Data"])))
        if not ids and "User-Name" in avps:
            ids.append((1, str(D.value(avps["User-Name"]))))
        ids.sort(key=lambda x: x[0])  # E.164 (0) before IMSI (1)
        return ids

    def _default_units(self, context: str) -> Units:
        if "32260" in context:
            return Units("*voice", self._default_amount(TIME), TIME)
        if "32274" in context:
            return Units(self.cfg.service_specific_balance, self._default_amount(UNITS), UNITS)
        return Units("*data", self._default_amount(OCTETS), OCTETS)

    def _default_amount(self, avp: str) -> Decimal:
        if avp == TIME:
            return self.cfg.default_time * NS_PER_SECOND
        return Decimal(self.cfg.default_units if avp == UNITS else self.cfg.default_octets)

    def _units(self, group: Any) -> Units | None:
        """The amount a Requested/Used-Service-Unit carries, in its balance type's units."""
        seconds = group.get(TIME)
        if seconds is not None:
            return Units("*voice", Decimal(int(seconds)) * NS_PER_SECOND, TIME)
        total = group.get(OCTETS)
        if total is None:
            inp, out = group.get("CC-Input-Octets"), group.get("CC-Output-Octets")
            if inp is not None or out is not None:
                total = int(inp or 0) + int(out or 0)
        if total is not None:
            return Units("*data", Decimal(int(total)), OCTETS)
        specific = group.get(UNITS)
        if specific is not None:
            return Units(self.cfg.service_specific_balance, Decimal(int(specific)), UNITS)
        return None

    def _service(self, rating_group: int, rsu: Any, usus: list[Any], context: str,
                 request_type: int, service_ids: list[int] | None = None, rated: bool = True) -> ServiceRequest:
        svc = ServiceRequest(rating_group, service_ids=service_ids or [], rated=rated)
        if rsu is not None and request_type != ccr.TERMINATION:
            asked = self._units(rsu)
            if asked is None:
                svc.requested = self._default_units(context)
            elif asked.amount <= 0:  # some gateways' "your choice": the default quota of the unit asked
                svc.requested = replace(asked, amount=self._default_amount(asked.avp))
            else:
                svc.requested = asked
        for usu in usus:
            units = self._units(usu)
            if units is not None:
                svc.used.append(units)
        return svc

    def _services(self, avps: dict[str, Any], context: str, request_type: int) -> list[ServiceRequest]:
        services = []
        for raw in avps["Multiple-Services-Credit-Control"]:
            mscc = D.value(raw)
            rating_group = mscc.get("Rating-Group")
            services.append(self._service(int(rating_group) if rating_group is not None else 0,
                                          mscc.get("Requested-Service-Unit"), mscc.get_all("Used-Service-Unit"),
                                          context, request_type, [int(i) for i in mscc.get_all("Service-Identifier")],
                                          rating_group is not None))
        if not services and ("Requested-Service-Unit" in avps or avps["Used-Service-Unit"]):
            rsu = D.value(avps["Requested-Service-Unit"]) if "Requested-Service-Unit" in avps else None
            services.append(self._service(0, rsu, [D.value(u) for u in avps["Used-Service-Unit"]], context,
                                          request_type))
        return services

    # --- CCA ---------------------------------------------------------------------------------------
    def _grant_value(self, units: Units) -> int:
        if units.avp == TIME:
            return int(units.amount / NS_PER_SECOND)
        return int(units.amount)

    def _fui(self) -> tuple[str, list[Any]]:
        if self.cfg.final_unit_action == "REDIRECT" and self.cfg.redirect_address:
            return ("Final-Unit-Indication", [("Final-Unit-Action", 1), ("Redirect-Server", [
                ("Redirect-Address-Type", 2), ("Redirect-Server-Address", self.cfg.redirect_address)])])
        return ("Final-Unit-Indication", [("Final-Unit-Action", 0)])

    def _mscc(self, result: CreditAnswer, req: CreditRequest) -> list[Any]:
        items: list[Any] = []
        for svc in result.services:
            items.append(("Multiple-Services-Credit-Control", self._one_mscc(svc, req)))
        return items

    def _one_mscc(self, svc: ServiceResult, req: CreditRequest, in_mscc: bool = True) -> list[Any]:
        """The AVPs of one service's answer: an MSCC's content, or (`in_mscc` False) the command level's."""
        group: list[Any] = []
        if svc.granted is not None and req.request_type != ccr.TERMINATION:
            group.append(("Granted-Service-Unit", [(svc.granted.avp, self._grant_value(svc.granted))]))
        if in_mscc:
            group += [("Service-Identifier", i) for i in svc.service_ids]  # how the client tells its MSCCs apart
            if svc.rated:  # an MSCC named by Service-Identifier alone is answered so
                group.append(("Rating-Group", svc.rating_group))
        if svc.granted is not None and req.request_type in (ccr.INITIAL, ccr.UPDATE):
            group.append(("Validity-Time", self.cfg.validity_time))
        if in_mscc:
            group.append(("Result-Code", svc.result_code))
        if svc.final and req.request_type in (ccr.INITIAL, ccr.UPDATE):
            group.append(self._fui())
        return group

    # --- RAR / ASR and session timeouts --------------------------------------------------------------
    def _account_changed(self, account: Account) -> None:
        """From a worker thread: tell the account's open sessions (ASR when disabled, else RAR)."""
        loop = self._loop
        if loop is None:
            return
        with self.store.store.reading() as conn:
            open_sessions = gy_sessions.of_account(conn, account.tenant, account.name)
        command = ASR if account.disabled else RAR
        for session in open_sessions:
            asyncio.run_coroutine_threadsafe(self._notify(session, command), loop)

    async def _notify(self, session: gy_sessions.GySession, command: int) -> None:
        items: list[Any] = [("Session-Id", session.session_id), *self.node.identity.origin_avps,
                            ("Destination-Realm", session.origin_realm), ("Destination-Host", session.origin_host),
                            ("Auth-Application-Id", CREDIT_CONTROL)]
        if command == RAR:
            items.append(("Re-Auth-Request-Type", 0))
        msg = D.message(command, CREDIT_CONTROL, FLAG_REQUEST | FLAG_PROXIABLE, items)
        name = "RAR" if command == RAR else "ASR"
        try:
            reply = await self.node.request(msg, peer=session.peer)
            log.info("%s for %s: Result-Code %s", name, session.session_id, reply.get("Result-Code"))
        except Exception as err:  # the peer went away: its session times out instead
            log.warning("%s for %s to %s failed: %s", name, session.session_id, session.peer, err)

    def _sweep(self) -> int:
        with self.store.writing() as conn:
            gy_sessions.drop_closed(conn, self.engine.now)
        with self.store.store.reading() as conn:
            stale = gy_sessions.expired(conn, self.engine.now)
        for session in stale:
            ccr.expire_session(self.engine, session)
            log.info("Gy session %s timed out: reservations released", session.session_id)
        return len(stale)

    async def _sweep_step(self) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(self.pool, self._sweep)
        except Exception:
            log.exception("Gy session sweep failed")

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._own is not None:
            self._own[0].start(self._loop)
            self._own[1].start()
        self._sweeper.start()

    async def stop(self) -> None:
        await self._sweeper.stop()  # the sweep in progress ends before the batch worker and the store
        if self._own is not None:
            await self._own[0].stop()
            self._own[1].stop()
        self.store.gate = None
        self.pool.shutdown(wait=False)


class _CreditBatch(BatchKind[CreditRequest, CreditAnswer]):
    """CCRs sharing one transaction on the event loop, a savepoint each; no synchronous HTTP there."""

    name = "gy"

    def __init__(self, engine: ChargingEngine, session_timeout: float) -> None:
        self.engine = engine
        self.session_timeout = session_timeout

    def run(self, conn: Connection, items: Sequence[CreditRequest]) -> list[CreditAnswer | Exception]:
        return ccr.apply_all(self.engine, conn, items, self.session_timeout, ccr.refuse_blocking)


def install_gy(node: Node, charging: Charging, cfg: GyConfig,
               shared: BatchWorker | None = None) -> GyService:
    gy = GyService(node, charging, cfg, shared=shared)
    gy.install()
    charging.gy = gy
    return gy
