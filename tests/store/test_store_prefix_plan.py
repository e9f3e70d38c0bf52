"""An IMSI/MSISDN prefix search is an index range on every backend, never a scan of all subscribers; an
APN filter neither lists every holder of a common APN nor walks the whole table for a rare one.

``LIKE 'p%' ESCAPE '/'`` (what ``startswith`` compiles to) cannot use the B-tree index on PostgreSQL
under a non-C collation, nor on SQLite with the ESCAPE clause: a prefix search read every row. The query
`list_subscribers` really sends is captured and explained, with sequential scans discouraged where the
planner allows it (small tables would otherwise be scanned anyway).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from sigcore.store import Store, SubscriberFilter


def _plan(store: Store, statement: str, params: Any) -> str:
    dialect = store.engine.dialect.name
    with store.engine.connect() as conn:
        if dialect == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")
            rows = conn.exec_driver_sql("EXPLAIN " + statement, params).all()
        elif dialect == "sqlite":
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
        else:
            rows = conn.exec_driver_sql("EXPLAIN " + statement, params).mappings().all()
            return " | ".join(f"{r['table']}:{r['type']}:{r['key']}" for r in rows)
    return " | ".join(" ".join(str(c) for c in r) for r in rows)


@pytest.mark.parametrize(("filters", "order", "index"), [
    (SubscriberFilter(msisdn_prefix="4670"), "msisdn", "msisdn"),
    (SubscriberFilter(imsi_prefix="00101"), "imsi", "imsi"),
    (SubscriberFilter(imsi_prefix="0019"), "imsi", "imsi"),
])
def test_prefix_search_uses_the_index(store: Store, filters: SubscriberFilter, order: str, index: str) -> None:
    """The prefix is the index condition (a range), not a filter applied while walking the whole index."""
    sent: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, _context: Any, _many: bool) -> None:
        if "FROM subscribers" in statement and "subscriber_apns" not in statement:
            sent.append((statement, params))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        store.list_subscribers(0, 25, filters, order=order)
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    assert len(sent) == 1
    plan = _plan(store, *sent[0])
    if store.engine.dialect.name == "sqlite":
        assert "SEARCH subscribers USING" in plan and index in plan, plan  # not SCAN: a range of the index
    elif store.engine.dialect.name == "postgresql":
        assert "Index Cond" in plan and "Seq Scan" not in plan, plan  # not a Filter over every index entry
    else:
        assert ":range:" in plan, plan


@pytest.mark.parametrize("common", [True, False], ids=["common-apn", "rare-apn"])
def test_apn_filter_neither_lists_a_common_apn_nor_walks_for_a_rare_one(store: Store, common: bool,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A common APN (more holders than `APN_HOLDERS_LISTED`) is checked along the page's index, never
    listed whole first (SQLite built the million-id list); a rare one's holders are fetched by key (PostgreSQL
    walked the whole IMSI index looking for them)."""
    from sigcore.store import subscribers

    monkeypatch.setattr(subscribers, "APN_HOLDERS_LISTED", 1 if common else 100)
    key = bytes(16).hex()
    for n in range(3):
        store.add_subscriber(f"00101000000000{n}", ki=key, opc=key, apns=["internet"])
    sent: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, _context: Any, _many: bool) -> None:
        if "ORDER BY subscribers.imsi" in statement:
            sent.append((statement, params))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        assert len(store.list_subscribers(0, 25, SubscriberFilter(apn="internet"))) == 3
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    assert len(sent) == 1
    statement = sent[0][0]
    assert ("EXISTS" in statement) is common  # a common APN row by row; a rare one by its ids
    plan = _plan(store, *sent[0])
    if store.engine.dialect.name == "sqlite":
        assert "LIST SUBQUERY" not in plan, plan
    elif store.engine.dialect.name == "postgresql" and not common:
        assert "pk_subscribers" in plan and "uq_subscribers_imsi" not in plan, plan
