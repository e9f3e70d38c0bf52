"""One Credit-Control-Request applied to its account in one transaction: debit what was used, reserve
what is asked, release on termination, write the session's CDR, fire the account's triggers."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from sigcore.charging import credit
from sigcore.charging import sessions as gy_sessions
from sigcore.charging.cdrs import session_record
from sigcore.charging.engine import ChargingEngine
from sigcore.charging.executor import ActionRun, MustBlock, Post
from sigcore.charging.model import Account, Balance
from sigcore.charging.sessions import GySession
from sigcore.charging.values import as_json_number

log = logging.getLogger("sigcore.charging.gy")
INITIAL, UPDATE, TERMINATION, EVENT = 1, 2, 3, 4
DIRECT_DEBITING, REFUND_ACCOUNT, CHECK_BALANCE, PRICE_ENQUIRY = 0, 1, 2, 3
SUCCESS = 2001
END_USER_SERVICE_DENIED = 4010
CREDIT_LIMIT_REACHED = 4012
USER_UNKNOWN = 5030
RATING_FAILED = 5031
PostSync = Callable[[Post], None]


@dataclass
class Units:
    """An amount in one balance type's units, and the AVP that carries it on the wire."""

    balance_type: str
    amount: Decimal
    avp: str


@dataclass
class ServiceRequest:
    rating_group: int
    requested: Units | None = None  # None: no Requested-Service-Unit (nothing more wanted)
    used: list[Units] = field(default_factory=list)
    service_ids: list[int] = field(default_factory=list)  # the MSCC's Service-Identifiers, echoed in its answer
    rated: bool = True  # the MSCC named its Rating-Group (else 0 here, and none in its answer)


@dataclass
class ServiceResult:
    rating_group: int
    result_code: int
    granted: Units | None = None
    final: bool = False  # Final-Unit-Indication: the grant is what is left
    service_ids: list[int] = field(default_factory=list)
    rated: bool = True


@dataclass
class CreditRequest:
    session_id: str
    request_type: int
    tenant: str  # with `account` empty: found from `subscription_ids` when applied
    account: str
    origin_host: str
    origin_realm: str
    peer: str
    services: list[ServiceRequest]
    requested_action: int = DIRECT_DEBITING
    subscription_ids: list[tuple[int, str]] = field(default_factory=list)  # (Subscription-Id-Type, data)
    #: CC-Request-Number and End-to-End id: a CCR with the session's last pair is that CCR sent again
    #: (answered as before, applied once); None: no duplicate detection (in-process callers)
    number: int | None = None
    end_to_end: int = 0


@dataclass
class CreditAnswer:
    result_code: int
    services: list[ServiceResult] = field(default_factory=list)
    balance_left: bool | None = None  # CHECK_BALANCE

    def to_json(self) -> list[Any]:
        return [self.result_code, self.balance_left, [
            [s.rating_group, s.result_code, s.final,
             None if s.granted is None else [s.granted.balance_type, str(s.granted.amount), s.granted.avp],
             s.service_ids, s.rated]
            for s in self.services]]

    @classmethod
    def from_json(cls, doc: list[Any]) -> CreditAnswer:
        code, balance_left, services = doc
        return cls(code, [ServiceResult(rg, rc, None if g is None else Units(g[0], Decimal(g[1]), g[2]), final, ids,
                                        rated) for rg, rc, final, g, ids, rated in services], balance_left)


def refuse_blocking(post: Post) -> None:
    """The `post_sync` of CCRs applied on the event loop: a trigger's synchronous ``*http_post`` makes the
    CCR's savepoint roll back and the CCR run again alone on a worker thread."""
    raise MustBlock(post.url)


def apply_all(engine: ChargingEngine, conn: Connection, requests: Sequence[CreditRequest], session_timeout: float,
              post_sync: PostSync | None = None) -> list[CreditAnswer | Exception]:
    """Several CCRs in the caller's transaction (one commit): each in its own savepoint, so one that fails
    leaves the others' changes; the answers (or errors) in request order. The savepoints go straight to
    the driver: SQLAlchemy's `begin_nested` bookkeeping was a large share of a CCR (docs/performance.md)."""
    out: list[CreditAnswer | Exception] = []
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cursor = dbapi.cursor()
    try:
        for req in requests:
            cursor.execute("SAVEPOINT ccr")
            try:
                out.append(apply(engine, req, session_timeout, conn, post_sync))
            except Exception as err:
                cursor.execute("ROLLBACK TO SAVEPOINT ccr")
                if not isinstance(err, MustBlock):
                    log.exception("CCR %s failed", req.session_id)
                out.append(err)
            cursor.execute("RELEASE SAVEPOINT ccr")
    finally:
        cursor.close()
    return out


def apply(engine: ChargingEngine, req: CreditRequest, session_timeout: float,
          conn: Connection | None = None, post_sync: PostSync | None = None) -> CreditAnswer:
    store = engine.store
    now = engine.now
    expires = now + dt.timedelta(seconds=session_timeout)
    if not req.account:
        found = store.resolve(req.subscription_ids, req.tenant, conn)
        if found is None:
            return CreditAnswer(USER_UNKNOWN)
        req.tenant, req.account = found
    with store.locked_account(req.tenant, req.account, create=False, conn=conn) as (conn, slot):
        acc = slot.account
        if acc is None:
            return CreditAnswer(USER_UNKNOWN)
        credit.drop_expired(acc, now)
        session = gy_sessions.load(conn, req.session_id)
        if session is not None:
            repeated = session.repeats(req.number, req.end_to_end)
            if repeated is not None:
                log.info("CCR %s number %s again: answered as the first time, not applied again", req.session_id,
                         req.number)
                return CreditAnswer.from_json(repeated)
            if session.closed:  # a new session under the Session-Id of one that ended
                gy_sessions.remove(conn, req.session_id)
                session = None
        new = session is None
        if session is None:
            session = GySession(req.session_id, req.tenant, req.account, req.origin_host, req.origin_realm,
                                req.peer, now)
        results: list[ServiceResult] = []
        debited = False
        seen: set[int] = set()  # rating groups an earlier MSCC of this CCR already holds units for
        for svc in req.services:
            for used in svc.used:
                taken = credit.debit(acc, used.balance_type, used.amount, svc.rating_group, now)
                session.add_use(svc.rating_group, used.balance_type, taken.taken)
                debited = debited or taken.taken > 0
            outcome = _service(acc, req, svc, session, now, expires, again=svc.rating_group in seen)
            outcome.service_ids, outcome.rated = svc.service_ids, svc.rated
            results.append(outcome)
            seen.add(svc.rating_group)
            debited = debited or req.request_type == EVENT
        if debited:
            job = ActionRun(acc, now, lambda n: store.actions(n, conn), engine.default_post_url,
                            post_sync or engine.poster.post)
            job.fire_triggers()
            store.add_cdrs(conn, job.cdrs)
        top = END_USER_SERVICE_DENIED if acc.disabled and req.request_type != TERMINATION else SUCCESS
        result = CreditAnswer(top, results)
        if req.request_type == EVENT and req.requested_action == CHECK_BALANCE and not acc.disabled:
            # RFC 4006 §6.3: a check is answered with Check-Balance-Result, not refused with 4012
            result.balance_left = all(r.result_code == SUCCESS for r in results)
            for r in results:
                r.result_code = SUCCESS
        if req.number is not None:
            session.last = gy_sessions.LastRequest(req.number, req.end_to_end, result.to_json())
        if req.request_type in (TERMINATION, EVENT):
            credit.release(acc, req.session_id)
            store.add_cdrs(conn, [_cdr(acc, session, now)])
            if req.number is not None:
                gy_sessions.close(conn, session, now, new)
            elif not new:
                gy_sessions.remove(conn, req.session_id)
        else:
            gy_sessions.save(conn, session, expires, new)
        return result


def _service(acc: Account, req: CreditRequest, svc: ServiceRequest, session: GySession, now: dt.datetime,
             expires: dt.datetime, again: bool) -> ServiceResult:
    """One MSCC's outcome. `again`: an earlier MSCC of this CCR had the same rating group (two services
    sharing it, told apart by Service-Identifier): its hold is added to, never replaced or released, so the
    grants of one CCR never add up to more than the account holds."""
    if req.request_type == TERMINATION:
        credit.release(acc, req.session_id, svc.rating_group)
        return ServiceResult(svc.rating_group, SUCCESS)
    if acc.disabled:
        credit.release(acc, req.session_id, svc.rating_group)
        return ServiceResult(svc.rating_group, END_USER_SERVICE_DENIED)
    if req.request_type == EVENT:
        return _event(acc, req, svc, session, now)
    if svc.requested is None:
        if not again:
            credit.release(acc, req.session_id, svc.rating_group)
        return ServiceResult(svc.rating_group, SUCCESS)
    ask = svc.requested
    grant = credit.reserve(acc, req.session_id, svc.rating_group, ask.balance_type, ask.amount, now, expires,
                           add=again)
    if grant <= 0:
        return ServiceResult(svc.rating_group, CREDIT_LIMIT_REACHED, final=True)
    return ServiceResult(svc.rating_group, SUCCESS, Units(ask.balance_type, grant, ask.avp), final=grant < ask.amount)


def _event(acc: Account, req: CreditRequest, svc: ServiceRequest, session: GySession,
           now: dt.datetime) -> ServiceResult:
    """CCR-Event: debit (or check, or refund) at once, all or nothing."""
    ask = svc.requested
    if ask is None:
        return ServiceResult(svc.rating_group, SUCCESS)
    if req.requested_action == PRICE_ENQUIRY:  # no tariffs to quote from (Cost-Information); never a debit
        return ServiceResult(svc.rating_group, RATING_FAILED)
    if req.requested_action == REFUND_ACCOUNT:
        balances = credit.serving_balances(acc, ask.balance_type, svc.rating_group, now)
        if balances:
            balances[0].value += ask.amount
        else:
            acc.balances.append(Balance(type=ask.balance_type, id="*default", value=ask.amount))
        return ServiceResult(svc.rating_group, SUCCESS, ask)
    enough = acc.allow_negative or credit.available(acc, ask.balance_type, svc.rating_group, now) >= ask.amount
    if req.requested_action == CHECK_BALANCE or not enough:
        return ServiceResult(svc.rating_group, SUCCESS if enough else CREDIT_LIMIT_REACHED)
    taken = credit.debit(acc, ask.balance_type, ask.amount, svc.rating_group, now)
    session.add_use(svc.rating_group, ask.balance_type, taken.taken)
    return ServiceResult(svc.rating_group, SUCCESS, ask)


def _cdr(acc: Account, session: GySession, now: dt.datetime) -> dict[str, object]:
    totals: dict[str, Decimal] = {}
    extra = {}
    for rg, per_type in sorted(session.used.items()):
        for balance_type, units in per_type.items():
            totals[balance_type] = totals.get(balance_type, Decimal(0)) + units
            extra[f"RatingGroup{rg}{balance_type}"] = str(units)
    tor = next(iter(totals), "*generic")
    cost = totals.get("*monetary", Decimal(0))
    usage = as_json_number(totals.get(tor, Decimal(0)))
    return session_record(acc, session.session_id, session.origin_host, tor, usage, as_json_number(cost),
                          session.started, now, extra)


def expire_session(engine: ChargingEngine, session: GySession) -> None:
    """A session that went silent: release its holds, write its CDR, forget it."""
    now = engine.now
    with engine.store.locked_account(session.tenant, session.account, create=False) as (conn, slot):
        current = gy_sessions.load(conn, session.session_id)
        if current is None or current.closed:  # ended meanwhile
            return
        if slot.account is not None:
            credit.release(slot.account, session.session_id)
            engine.store.add_cdrs(conn, [_cdr(slot.account, current, now)])
        gy_sessions.remove(conn, session.session_id)
