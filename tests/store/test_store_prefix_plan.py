"""An IMSI/MSISDN prefix search is an index range on every backend, never a scan of all subscribers.

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
