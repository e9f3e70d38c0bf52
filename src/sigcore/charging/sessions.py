"""Open Gy sessions: one row each (who, where from, what was used so far), written in the transaction of
the CCR that changed the account, so a session and its reservations never disagree.

Each row also keeps the last CCR it applied (CC-Request-Number, End-to-End id) and its answer: a gateway
that sends a CCR again after a failover or our restart (RFC 6733 §5.5.4: same End-to-End id, T-flag) gets
the same answer and is not charged twice; the node's in-memory duplicate cache does not survive a restart
or reach another process. A session that ended (CCR-T, or a CCR-Event) keeps its row for
`DUPLICATE_WINDOW` as a closed one, under the empty tenant: no account, found by no sweep or RAR."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, insert, select, update

from sigcore.charging import tables as t
from sigcore.charging.times import from_rfc3339, rfc3339
from sigcore.store.base import as_utc
from sigcore.store.raw import RawStatement

_SESSION = RawStatement(select(t.sessions.c.session_id, t.sessions.c.tenant, t.sessions.c.account,
                               t.sessions.c.origin_host, t.sessions.c.started, t.sessions.c.document).where(
    t.sessions.c.session_id == bindparam("sid")))
_COLUMNS: dict[str, Any] = {name: bindparam(name) for name in ("tenant", "account", "origin_host", "started",
                                                                "expires", "document")}
_INSERT = RawStatement(insert(t.sessions).values(session_id=bindparam("sid"), **_COLUMNS))
# what changes within a session: SQLite rewrites the index entries of every column an UPDATE sets
_UPDATE = RawStatement(update(t.sessions).where(t.sessions.c.session_id == bindparam("sid")).values(
    expires=bindparam("expires"), document=bindparam("document")))
_OF_ACCOUNT = RawStatement(select(t.sessions).where(and_(t.sessions.c.tenant == bindparam("tenant"),
                                                         t.sessions.c.account == bindparam("account"))))
_DELETE = RawStatement(delete(t.sessions).where(t.sessions.c.session_id == bindparam("sid")))
_CLOSE = RawStatement(update(t.sessions).where(t.sessions.c.session_id == bindparam("sid")).values(
    tenant=bindparam("tenant"), account=bindparam("account"), expires=bindparam("expires"),
    document=bindparam("document")))
#: the tenant of a closed session's row (no account has it: check_names refuses an empty tenant)
CLOSED = ""
#: how long a closed session still recognises its last CCR sent again: past a gateway's retransmissions
#: (Tx, then failover after Tw, RFC 4006 §5.7, RFC 3539)
DUPLICATE_WINDOW = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class LastRequest:
    """The CCR a session applied last and what it was answered (`CreditAnswer` as plain JSON values)."""

    number: int
    end_to_end: int
    answer: Any


@dataclass
class GySession:
    session_id: str
    tenant: str
    account: str
    origin_host: str
    origin_realm: str
    peer: str
    started: dt.datetime
    # rating group -> balance type -> units used
    used: dict[int, dict[str, Decimal]] = field(default_factory=dict)
    last: LastRequest | None = None
    closed: bool = False

    def repeats(self, number: int | None, end_to_end: int) -> Any:
        """The stored answer if (CC-Request-Number, End-to-End id) is the last CCR's, else None."""
        last = self.last
        if last is not None and number is not None and last.number == number and last.end_to_end == end_to_end:
            return last.answer
        return None

    def add_use(self, rating_group: int, balance_type: str, units: Decimal) -> None:
        per_type = self.used.setdefault(rating_group, {})
        per_type[balance_type] = per_type.get(balance_type, Decimal(0)) + units

    def document(self) -> str:
        doc: dict[str, Any] = {"origin_realm": self.origin_realm, "peer": self.peer,
                               "used": {str(rg): {k: str(v) for k, v in u.items()} for rg, u in self.used.items()},
                               "started": rfc3339(self.started)}
        if self.last is not None:
            doc["last"] = [self.last.number, self.last.end_to_end, self.last.answer]
        if self.closed:
            doc["closed"] = True
        return json.dumps(doc)


def _from_row(row: Any) -> GySession:
    doc = json.loads(row.document)
    last = doc.get("last")  # rows written before duplicate detection have none
    return GySession(row.session_id, row.tenant, row.account, row.origin_host, doc["origin_realm"], doc["peer"],
                     from_rfc3339(doc["started"]) or as_utc(row.started) or dt.datetime.now(dt.UTC),
                     {int(rg): {k: Decimal(v) for k, v in u.items()} for rg, u in doc["used"].items()},
                     LastRequest(*last) if last else None, bool(doc.get("closed")))


def load(conn: Connection, session_id: str) -> GySession | None:
    rows = _SESSION.rows(conn, {"sid": session_id})
    return _from_row(rows[0]) if rows else None


def save(conn: Connection, session: GySession, expires: dt.datetime, new: bool) -> None:
    if not new:
        _UPDATE.rowcount(conn, [{"sid": session.session_id, "expires": expires, "document": session.document()}])
        return
    _INSERT.rowcount(conn, [{"sid": session.session_id, "tenant": session.tenant, "account": session.account,
                             "origin_host": session.origin_host, "started": session.started, "expires": expires,
                             "document": session.document()}])


def remove(conn: Connection, session_id: str) -> None:
    _DELETE.rowcount(conn, [{"sid": session_id}])


def close(conn: Connection, session: GySession, now: dt.datetime, new: bool) -> None:
    """The session ended: its row stays `DUPLICATE_WINDOW` as a closed one (its last CCR and answer)."""
    session.closed = True
    session.tenant = session.account = CLOSED
    if new:
        save(conn, session, now + DUPLICATE_WINDOW, True)
        return
    _CLOSE.rowcount(conn, [{"sid": session.session_id, "tenant": CLOSED, "account": CLOSED,
                            "expires": now + DUPLICATE_WINDOW, "document": session.document()}])


def drop_closed(conn: Connection, now: dt.datetime) -> int:
    """Forget the closed sessions past their duplicate window; how many."""
    result = conn.execute(delete(t.sessions).where(and_(t.sessions.c.tenant == CLOSED, t.sessions.c.expires <= now)))
    return int(result.rowcount or 0)


def of_account(conn: Connection, tenant: str, account: str) -> list[GySession]:
    return [_from_row(r) for r in _OF_ACCOUNT.rows(conn, {"tenant": tenant, "account": account})]


def expired(conn: Connection, now: dt.datetime, limit: int = 100) -> list[GySession]:
    rows = conn.execute(select(t.sessions).where(and_(t.sessions.c.expires <= now, t.sessions.c.tenant != CLOSED))
                        .order_by(t.sessions.c.expires).limit(limit))
    return [_from_row(r) for r in rows]
