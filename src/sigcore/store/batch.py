"""Batched database work for the hot path: requests queue up, each batch is one transaction per kind.

At thousands of AIR/ULR per second the cost of a transaction (SQLAlchemy execution, a commit, a round
trip or an fsync) dominates, not the rows. So handlers do not each open a transaction: they `submit` an
item and await its result, and this worker drains everything queued, runs one `BatchKind` at a time over
all its items in a single transaction (`Store.writing`: ``BEGIN IMMEDIATE`` on SQLite, row locks elsewhere),
and resolves all the items' tickets (`store.ticket`: the waiting handlers resume right there) with one call
into the event loop. Under light load a batch is one item, so latency is a single transaction; under heavy
load the batch grows and the per-item cost falls.

Nothing is resolved before the commit returns: a batch that fails to commit fails every item in it.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import Connection

from sigcore.diameter.aio import turn
from sigcore.store.raw import Retry, check_all_updated
from sigcore.store.ticket import Ticket

if TYPE_CHECKING:
    from sigcore.store import Store

log = logging.getLogger("sigcore.store.batch")
Item = TypeVar("Item")
Result = TypeVar("Result")


class BatchKind(Generic[Item, Result]):
    """A kind of work: ``run(conn, items)`` returns one result (or an Exception instance) per item,
    inside the transaction; ``after(items, results)`` runs after the commit (e.g. computing vectors)."""

    name = "batch"

    def run(self, conn: Connection, items: Sequence[Item]) -> list[Result | Exception]:
        raise NotImplementedError

    def after(self, items: Sequence[Item], results: list[Result | Exception]) -> list[Any]:
        return list(results)


SWITCH_INTERVAL = 0.0002
GATE_RETRY = 0.001  # seconds between looks at a `gate` held by the WAL checkpointer
STOP_WAIT = 1.0  # seconds `stop` lets requests queued behind a held gate finish before failing them
_Job = tuple[BatchKind[Any, Any], Any, Ticket[Any]]
_STOP = object()


class BatchWorker:
    """The thread and its queue. `await submit(kind, item)` from the event loop; `start()`/`stop()`."""

    def __init__(self, store: Store, max_batch: int = 512, attempts: int = 5, inline: bool | None = None) -> None:
        self.store = store
        # SQLite is in-process and a WAL commit costs no fsync: run batches on the event loop itself, which
        # avoids the GIL hand-offs entirely. A server database (network round trips) gets the thread.
        self.inline = store.engine.dialect.name == "sqlite" if inline is None else inline
        self._pending: list[_Job] = []
        self._conn: Connection | None = None
        self._drain_scheduled = False
        self.max_batch = max_batch
        self.attempts = attempts
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        # Held around each transaction; the WAL checkpointer holds it while it restarts the log
        # (`store.checkpoint`), and batches then wait in the queue rather than on the database lock.
        self.gate = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped = False
        self.batches = 0
        self.items = 0
        self.fail_before_commit: Callable[[BatchKind[Any, Any]], None] | None = None  # tests: crash injection

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop or asyncio.get_running_loop()
        if self._thread is not None or self.inline:
            return
        # The GIL convoy: whenever the event loop blocks in send()/recv(), this thread takes the GIL and,
        # by default, keeps it up to 5 ms before the loop gets it back: the loop then serves a few hundred
        # requests a second. A short switch interval bounds that wait.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        self._thread = threading.Thread(target=self._serve, name="sigcore-hss-db", daemon=True)
        self._thread.start()

    def _connection(self) -> Connection | None:
        """Inline (SQLite) batches all run on the loop's thread, so they can share one connection kept open
        for the worker's life: its transaction then costs a third as much. Opened at the first batch, after
        start-up has set the pool's checkout hooks (the WAL checkpointer's). The thread takes a pooled one
        per batch, as server databases drop idle connections."""
        if not self.inline:
            return None
        if self._stopped:  # a gate retry that fires after `stop` must not open a connection nobody closes
            raise WorkerStopped("the HSS batch worker has stopped")
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self.store.engine.connect()
        return self._conn

    async def stop(self) -> None:
        """Requests already queued inline (behind a gate the checkpointer holds) get up to `STOP_WAIT` to be
        answered; then the kept connection is closed, and a batch that would still run fails with
        `WorkerStopped` instead of opening a new one."""
        if self.inline and self._pending:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + STOP_WAIT
            while self._pending and loop.time() < deadline:
                await asyncio.sleep(GATE_RETRY)
        self._stopped = True
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._queue.put(_STOP)
        await asyncio.get_running_loop().run_in_executor(None, thread.join, 10.0)

    async def submit(self, kind: BatchKind[Item, Result], item: Item) -> Result:
        if self._loop is None or (self._thread is None and not self.inline):
            self.start()
        assert self._loop is not None
        fut: Ticket[Result] = Ticket(self._loop)  # its waiter resumes when the batch resolves it, not a turn later
        if self.inline:
            self._pending.append((kind, item, fut))
            if not self._drain_scheduled:  # after every request of this read (`turn`), or of this loop turn
                self._drain_scheduled = True
                turn.defer(self._drain)
        else:
            self._queue.put((kind, item, fut))
        return await fut

    def _drain(self) -> None:
        if not self.gate.acquire(blocking=False):  # the checkpointer is restarting the WAL: look again soon
            assert self._loop is not None
            self._loop.call_later(GATE_RETRY, self._drain)  # _drain_scheduled stays set: submits just queue
            return
        self._drain_scheduled = False
        turn.run_scoped(self._run_pending)  # the resumed handlers' answers leave at its end, not a turn later

    def _run_pending(self) -> None:
        """All queued batches, with the gate (taken by `_drain`) held for their transactions only: it is
        released before the tickets resume their handlers, whose own submits then drain right away."""
        done: list[tuple[list[_Job], list[Any]]] = []
        try:
            while self._pending:
                jobs, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch:]
                done.extend((group, self._run_group(group)) for group in _by_kind(jobs))
        finally:
            self.gate.release()
        for group, outcome in done:
            _resolve([fut for _, _, fut in group], outcome)

    # --- the thread ----------------------------------------------------------------------------------
    def _serve(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            jobs: list[_Job] = [first]
            stop = False
            while len(jobs) < self.max_batch:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is _STOP:
                    stop = True
                    break
                jobs.append(job)
            assert self._loop is not None
            for group in _by_kind(jobs):
                with self.gate:
                    outcome = self._run_group(group)
                self._loop.call_soon_threadsafe(turn.run_scoped, _resolve, [fut for _, _, fut in group], outcome)
            if stop:
                return

    def _run_group(self, group: list[_Job]) -> list[Any]:
        kind = group[0][0]
        items = [item for _, item, _ in group]
        outcome: list[Any]
        try:
            outcome = kind.after(items, self._transaction(kind, items))
        except Exception as err:  # the transaction failed: every item fails, nothing was handed out
            log.warning("%s batch of %d failed: %s", kind.name, len(items), type(err).__name__)
            outcome = [err] * len(items)
        self.batches += 1
        self.items += len(items)
        return outcome

    def _transaction(self, kind: BatchKind[Any, Any], items: list[Any]) -> list[Any]:
        last: Exception | None = None
        for _ in range(self.attempts):
            try:
                with self.store.writing(self._connection()) as conn:
                    results = kind.run(conn, items)
                    if self.fail_before_commit is not None:
                        self.fail_before_commit(kind)
                return results
            except Retry as err:
                last = err
        raise last or RuntimeError("unreachable")


class WorkerStopped(Exception):
    """A batch reached a worker after its `stop`: its requests fail (the node answers them 5012)."""


__all__ = ["BatchKind", "BatchWorker", "Retry", "WorkerStopped", "check_all_updated"]


def _by_kind(jobs: list[_Job]) -> list[list[_Job]]:
    groups: dict[int, list[_Job]] = {}
    for job in jobs:
        groups.setdefault(id(job[0]), []).append(job)
    return list(groups.values())


def _resolve(futures: list[Ticket[Any]], outcome: list[Any]) -> None:
    for fut, value in zip(futures, outcome, strict=True):
        if fut.done():
            continue
        if isinstance(value, BaseException):
            fut.set_exception(value)
        else:
            fut.set_result(value)
