"""`BatchWorker` on SQLite runs its batches inline on one connection it keeps open: no pool checkout per
batch, a failed batch rolls back and leaves the connection usable, and stop() closes it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import Connection, event

from sigcore.store import Store
from sigcore.store.batch import BatchKind, BatchWorker
from support.s6a import IMSI, new_kek, provision, sqlite_url


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


async def _queued_behind_a_held_gate(
        tmp_path: Path) -> tuple[Store, BatchWorker, list[object], asyncio.Future[int]]:
    """A worker whose kept connection is open (one batch done, SQN 64), the gate held as the checkpointer
    holds it while restarting the WAL, and a request (SQN 96) queued behind it; the pool's checkouts."""
    store = provision(sqlite_url(tmp_path), new_kek())
    checkouts: list[object] = []
    event.listen(store.engine, "checkout", lambda *args: checkouts.append(args[0]))
    worker = BatchWorker(store)
    kind = SetSqn()
    assert await worker.submit(kind, 64) == 64
    assert worker.gate.acquire(blocking=False)
    return store, worker, checkouts, asyncio.ensure_future(worker.submit(kind, 96))


async def test_stop_lets_a_request_queued_behind_the_gate_finish_and_opens_nothing_after(tmp_path: Path) -> None:
    """A request queued while the checkpointer holds the gate is retried every millisecond. Before, `stop()`
    closed the kept connection at once and the retry then opened a new one after the stop (never closed),
    committing on it; now stop waits for the queue to drain, then closes, and nothing reopens."""
    store, worker, checkouts, queued = await _queued_behind_a_held_gate(tmp_path)
    await asyncio.sleep(0.005)
    stopping = asyncio.ensure_future(worker.stop())
    await asyncio.sleep(0.005)
    assert not stopping.done()  # waiting for the queued request, not closing under it
    worker.gate.release()
    assert await queued == 96
    await stopping
    await asyncio.sleep(0.01)  # any late retry would have run by now
    assert worker._conn is None
    assert len(checkouts) == 1  # one connection for the worker's whole life: none opened after stop
    assert store.get_auth_material(IMSI).sqn == 96
    store.close()


async def test_a_batch_after_stop_fails_instead_of_opening_a_connection(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the gate stays held past `STOP_WAIT`, the queued request fails with WorkerStopped (its handler
    answers 5012) and no connection is opened for it."""
    from sigcore.store import batch

    monkeypatch.setattr(batch, "STOP_WAIT", 0.02)
    store, worker, checkouts, queued = await _queued_behind_a_held_gate(tmp_path)
    await asyncio.sleep(0.005)
    await worker.stop()
    worker.gate.release()
    with pytest.raises(batch.WorkerStopped):
        await asyncio.wait_for(queued, 1.0)
    assert worker._conn is None and len(checkouts) == 1
    assert store.get_auth_material(IMSI).sqn == 64
    store.close()
