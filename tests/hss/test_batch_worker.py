"""`BatchWorker` on SQLite runs its batches inline on one connection it keeps open: no pool checkout per
batch, a failed batch rolls back and leaves the connection usable, and stop() closes it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest
from s6a_harness import IMSI, new_kek, provision, sqlite_url
from sqlalchemy import Connection, event

from sigcore.hss.batch import BatchKind, BatchWorker


class SetSqn(BatchKind[int, int]):
    """Writes the SQN it is given; 'fail' makes the batch raise after writing (so the write must roll back)."""

    name = "set-sqn"

    def __init__(self) -> None:
        self.fail = False

    def run(self, conn: Connection, items: Sequence[int]) -> list[int | Exception]:
        for sqn in items:
            conn.exec_driver_sql("UPDATE auth_data SET sqn = ?", (sqn,))
        if self.fail:
            raise RuntimeError("batch failed after its writes")
        return list(items)


async def test_inline_batches_share_one_connection_and_survive_a_failed_batch(tmp_path: Path) -> None:
    store = provision(sqlite_url(tmp_path), new_kek())
    checkouts: list[object] = []
    event.listen(store.engine, "checkout", lambda *args: checkouts.append(args[0]))
    worker = BatchWorker(store)
    assert worker.inline
    kind = SetSqn()
    try:
        for sqn in (64, 96, 128):
            assert await worker.submit(kind, sqn) == sqn
        assert len(checkouts) == 1  # three batches, one connection
        kind.fail = True
        with pytest.raises(RuntimeError):
            await worker.submit(kind, 4096)
        kind.fail = False
        assert store.get_auth_material(IMSI).sqn == 128  # the failed batch's write was rolled back
        assert await asyncio.gather(*(worker.submit(kind, s) for s in (160, 192))) == [160, 192]
        assert worker.batches == 5  # the two concurrent submits were one batch
        assert store.get_auth_material(IMSI).sqn == 192
        assert len([c for c in checkouts if c is checkouts[0]]) == 1
    finally:
        await worker.stop()
    assert worker._conn is None
    store.close()


class Orphan(BatchKind[int, int]):
    """Writes a row whose foreign key only fails at COMMIT (deferred checks): a commit that fails for real."""

    name = "orphan"

    def run(self, conn: Connection, items: Sequence[int]) -> list[int | Exception]:
        conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
        conn.exec_driver_sql("INSERT INTO subscriber_apns (subscriber_id, apn_id, context_id) VALUES (999999, 1, 1)")
        return list(items)


async def test_a_failed_commit_rolls_back_and_the_kept_connection_stays_usable(tmp_path: Path) -> None:
    """On the kept connection the transaction is the driver's own; SQLite leaves a transaction open when its
    COMMIT fails (a deferred foreign key), so the worker must roll it back or every later BEGIN fails."""
    store = provision(sqlite_url(tmp_path), new_kek())
    worker = BatchWorker(store)
    assert worker.inline
    try:
        with pytest.raises(Exception, match="FOREIGN KEY"):
            await worker.submit(Orphan(), 1)
        assert await worker.submit(SetSqn(), 320) == 320  # the next batch begins and commits
        assert store.get_auth_material(IMSI).sqn == 320
        with store.reading() as conn:
            orphans = conn.exec_driver_sql("SELECT count(*) FROM subscriber_apns WHERE subscriber_id = 999999")
            assert orphans.scalar() == 0
    finally:
        await worker.stop()
    store.close()


async def test_batches_wait_in_the_queue_while_the_checkpointer_holds_the_gate(tmp_path: Path) -> None:
    """While the WAL checkpointer restarts the log it holds `gate`: inline batches must not start (they would
    sleep on SQLite's lock in the event loop's thread); requests queue and go in one batch afterwards."""
    store = provision(sqlite_url(tmp_path), new_kek())
    worker = BatchWorker(store)
    kind = SetSqn()
    held = False
    try:
        assert await worker.submit(kind, 64) == 64
        held = worker.gate.acquire(blocking=False)
        assert held
        waiting = [asyncio.ensure_future(worker.submit(kind, sqn)) for sqn in (96, 128)]
        ticks = 0
        while ticks < 20:  # the loop keeps turning (20 x 1 ms) and nothing commits meanwhile
            await asyncio.sleep(0.001)
            ticks += 1
        assert not any(f.done() for f in waiting) and worker.batches == 1
        assert store.get_auth_material(IMSI).sqn == 64
        worker.gate.release()
        held = False
        assert await asyncio.gather(*waiting) == [96, 128]
        assert worker.batches == 2  # both queued requests in one batch
        assert not worker.gate.locked()
        assert store.get_auth_material(IMSI).sqn == 128
    finally:
        if held:
            worker.gate.release()
        await worker.stop()
    store.close()
