"""Open Gy sessions: one row each (who, where from, what was used so far), written in the transaction of
the CCR that changed the account, so a session and its reservations never disagree."""

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

    def add_use(self, rating_group: int, balance_type: str, units: Decimal) -> None:
        per_type = self.used.setdefault(rating_group, {})
        per_type[balance_type] = per_type.get(balance_type, Decimal(0)) + units

    def document(self) -> str:
        return json.dumps({"origin_realm": self.origin_realm, "peer": self.peer,
                           "used": {str(rg): {k: str(v) for k, v in u.items()} for rg, u in self.used.items()},
                           "started": rfc3339(self.started)})


def _from_row(row: Any) -> GySession:
    doc = json.loads(row.document)
    return GySession(row.session_id, row.tenant, row.account, row.origin_host, doc["origin_realm"], doc["peer"],
                     from_rfc3339(doc["started"]) or as_utc(row.started) or dt.datetime.now(dt.UTC),
                     {int(rg): {k: Decimal(v) for k, v in u.items()} for rg, u in doc["used"].items()})


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


def of_account(conn: Connection, tenant: str, account: str) -> list[GySession]:
    return [_from_row(r) for r in _OF_ACCOUNT.rows(conn, {"tenant": tenant, "account": account})]


def expired(conn: Connection, now: dt.datetime, limit: int = 100) -> list[GySession]:
    rows = conn.execute(select(t.sessions).where(t.sessions.c.expires <= now).order_by(t.sessions.c.expires)
                        .limit(limit))
    return [_from_row(r) for r in rows]
