"""Serving state (which MME/SGSN holds the subscriber) and roaming rules.

A registration (ULR) is written by one path, batched: the HSS's ULR batches (`sigcore.hss.s6a.registration`,
run by `sigcore.store.batch.BatchWorker`) and `update_serving_mme`/`update_serving_sgsn` (one IMSI, one
transaction) both read with `lock_serving_rows` and write with `write_serving`.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from sigcore.store import tables as t
from sigcore.store import validate as v
from sigcore.store.auc import AucRepository
from sigcore.store.base import SUBSCRIBER_ID_SUBQUERY, as_utc, new_id, utc_now
from sigcore.store.errors import NotFound
from sigcore.store.raw import RawStatement
from sigcore.store.records import RoamingRule, ServingNode, ServingState

Node = Literal["mme", "sgsn"]
_V = t.serving_state.c
_SERVING = select(t.serving_state).where(_V.subscriber_id == SUBSCRIBER_ID_SUBQUERY)
_SERVING_FOR_UPDATE = RawStatement(
    select(t.serving_state, t.subscribers.c.imsi, t.subscribers.c.profile_version)
    .join(t.subscribers, t.subscribers.c.id == _V.subscriber_id)
    .where(t.subscribers.c.imsi.in_(bindparam("imsis", expanding=True)))
    .order_by(t.subscribers.c.id)
    .with_for_update()
)


def _set_node(node: Node, host: bool) -> RawStatement:
    """The serving-node write; without ``host`` it leaves the (indexed) host column alone: a ULR from the
    node already registered (every periodic TAU) then changes one table page, not that page and an index
    page (SQLite rewrites an index entry whenever its column is SET, even to the same value)."""
    values: dict[str, Any] = {f"{node}_realm": bindparam("realm"), f"{node}_peer": bindparam("peer"),
                              f"{node}_updated_at": bindparam("now"), f"{node}_purged": False}
    if host:
        values[f"{node}_host"] = bindparam("host")
    return RawStatement(update(t.serving_state).where(_V.subscriber_id == bindparam("sid")).values(values))


# by (node, host changed)
_SET_NODE = {(node, changed): _set_node(node, changed) for node in ("mme", "sgsn") for changed in (True, False)}
_PURGE = {
    node: update(t.serving_state)
    .where(_V.subscriber_id == bindparam("sid"))
    .values({f"{node}_purged": True, f"{node}_updated_at": bindparam("now")})
    for node in ("mme", "sgsn")
}
_RULES = select(t.roaming_rules, t.subscribers.c.imsi).outerjoin(
    t.subscribers, t.subscribers.c.id == t.roaming_rules.c.subscriber_id
)


def lock_serving_rows(conn: Connection, imsis: list[str]) -> dict[str, Any]:
    """The serving_state rows of `imsis` by IMSI, with ``imsi`` and ``profile_version``, locked until
    `conn`'s transaction ends (in subscriber id order: two transactions never deadlock)."""
    return {r.imsi: r for r in _SERVING_FOR_UPDATE.rows(conn, {"imsis": imsis})}


def write_serving(conn: Connection, node: Node, host_changed: bool, registrations: list[dict[str, Any]]) -> None:
    """Record the MME (or SGSN) of each registration ``{"sid", "host", "realm", "peer", "now"}`` (one
    executemany) and clear its purged flag; `host_changed`: whether the rows' stored host differs, else the
    host column is left alone."""
    _SET_NODE[(node, host_changed)].rowcount(conn, registrations)


def serving_node(row: Any, node: Node) -> ServingNode | None:
    """The MME (or SGSN) of a serving_state row (a Row or a `RawStatement` row), None if there is none."""
    host = getattr(row, f"{node}_host")
    if host is None:
        return None
    return ServingNode(host, getattr(row, f"{node}_realm"), getattr(row, f"{node}_peer"),
                       as_utc(getattr(row, f"{node}_updated_at")), bool(getattr(row, f"{node}_purged")))


class ServingRepository(AucRepository):
    def get_serving(self, imsi: str) -> ServingState:
        with self.reading() as conn:
            row = conn.execute(_SERVING, {"imsi": imsi}).first()
        if row is None:
            raise NotFound(f"no subscriber with IMSI {imsi}")
        return ServingState(serving_node(row, "mme"), serving_node(row, "sgsn"))

    def update_serving_mme(self, imsi: str, host: str, realm: str | None, peer: str | None) -> ServingNode | None:
        """Record the MME of a ULR; returns the MME it replaces (the target of a CLR when hosts differ)."""
        return self._update_serving("mme", imsi, host, realm, peer)

    def update_serving_sgsn(self, imsi: str, host: str, realm: str | None, peer: str | None) -> ServingNode | None:
        return self._update_serving("sgsn", imsi, host, realm, peer)

    def purge(self, imsi: str, host: str | None = None, *, node: Node = "mme") -> bool:
        """Mark the MME (or SGSN) registration purged (PUR); with `host`, only if it is the serving one.

        Returns whether the flag was set, i.e. whether `host` was the serving node (TS 29.272 §5.2.3.1.3).
        """
        with self.writing() as conn:
            row = lock_serving_rows(conn, [imsi]).get(imsi)
            if row is None:
                raise NotFound(f"no subscriber with IMSI {imsi}")
            serving = getattr(row, f"{node}_host")
            if serving is None or (host is not None and host != serving):
                return False
            conn.execute(_PURGE[node], {"sid": row.subscriber_id, "now": utc_now()})
            return True

    def _update_serving(
        self, node: Node, imsi: str, host: str, realm: str | None, peer: str | None
    ) -> ServingNode | None:
        """One registration through the ULR's batched path, in a transaction of its own."""
        with self.writing() as conn:
            row = lock_serving_rows(conn, [imsi]).get(imsi)
            if row is None:
                raise NotFound(f"no subscriber with IMSI {imsi}")
            params = {"sid": row.subscriber_id, "host": host, "realm": realm, "peer": peer, "now": utc_now()}
            write_serving(conn, node, host != getattr(row, f"{node}_host"), [params])
            return serving_node(row, node)

    # -- roaming rules --------------------------------------------------------------------------------

    def set_roaming_rule(self, plmn: str, allowed: bool, imsi: str | None = None) -> RoamingRule:
        """Allow or deny the visited PLMN for one subscriber (or, without `imsi`, for all); replaces a rule."""
        plmn = v.plmn(plmn)
        with self.writing() as conn:
            sid = self.subscriber_id(conn, imsi) if imsi is not None else None
            scope = t.roaming_rules.c.subscriber_id
            conn.execute(delete(t.roaming_rules).where(
                t.roaming_rules.c.plmn == plmn, scope == sid if sid is not None else scope.is_(None)))
            rid = new_id(conn.execute(
                insert(t.roaming_rules), {"plmn": plmn, "allowed": bool(allowed), "subscriber_id": sid}
            ))
        return RoamingRule(rid, plmn, bool(allowed), imsi)

    def list_roaming_rules(self, imsi: str | None = None) -> list[RoamingRule]:
        with self.reading() as conn:
            return self.roaming_rules_on(conn, imsi)

    @staticmethod
    def roaming_rules_on(conn: Connection, imsi: str | None = None) -> list[RoamingRule]:
        """`list_roaming_rules` inside the caller's transaction (the ULR's batch)."""
        query = _RULES.order_by(t.roaming_rules.c.plmn, t.roaming_rules.c.id)
        if imsi is not None:
            query = query.where(t.subscribers.c.imsi == imsi)
        return [RoamingRule(r.id, r.plmn, bool(r.allowed), r.imsi) for r in conn.execute(query)]

    def delete_roaming_rule(self, rule_id: int) -> None:
        with self.writing() as conn:
            if conn.execute(delete(t.roaming_rules).where(t.roaming_rules.c.id == rule_id)).rowcount != 1:
                raise NotFound(f"no roaming rule {rule_id}")

    def roaming_rule(self, imsi: str, plmn: str) -> bool | None:
        """The rule for `imsi` in the visited `plmn`: the subscriber's own, else the global one, else None."""
        rules = [r for r in self.list_roaming_rules() if r.plmn == plmn and r.imsi in (imsi, None)]
        own = [r for r in rules if r.imsi == imsi]
        chosen = own or rules
        return chosen[0].allowed if chosen else None
