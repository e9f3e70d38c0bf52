"""SQLite WAL checkpoints off the hot path.

In WAL mode SQLite copies the log back into the database file (a checkpoint) whenever a commit leaves the
log over ``wal_autocheckpoint`` pages (1,000 by default): that commit then writes and fsyncs on the spot.
On SQLite the HSS commits its batches on the event loop (`batch.BatchWorker`), so every few hundred
batches one AIR or ULR waited for a disk flush: latency spikes at the tail.

`WalCheckpointer` turns automatic checkpoints off on the store's connections and runs a PASSIVE checkpoint
from its own thread and its own connection every `interval` seconds instead. PASSIVE never blocks readers
or the writer; the sqlite3 module releases the GIL while it works, so the loop keeps answering during the
fsync. Durability is unchanged (the WAL is the commit; the checkpoint only moves pages). Other processes
on the same file (the CLI, another HSS) keep their own automatic checkpoints. Server databases: nothing.

PASSIVE alone does not bound the WAL under steady load. SQLite starts the log over only when a write
transaction begins with every frame already copied back, and the writer commits during every checkpoint's
fsync, so the log never empties: under load it grows without end, and every checkpoint, and every read
of a page outside the log, gets slower as its index grows (docs/performance.md). So once the log holds
`restart_frames` frames the checkpointer follows its PASSIVE with a RESTART checkpoint, which takes the
write lock, copies the few frames committed meanwhile and has the next writer start the log over from its
first frame: the file stays near `restart_frames` pages. It holds `gate` while doing so (a few
milliseconds), a lock the HSS batch worker takes without waiting around each of its transactions: the
worker keeps queueing requests and commits them in one batch afterwards instead of sleeping on the
database lock in the event loop's thread. (TRUNCATE, which also shrinks the file, would hold the gate for
one more fsync and a truncation.)
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Any

from sqlalchemy import event

from sigcore.store import Store

log = logging.getLogger("sigcore.store.checkpoint")
_FLAG = "sigcore_wal_autocheckpoint_off"


RESTART_FRAMES = 4096  # 16 MB of 4 KiB pages, and one wal-index hash table (SQLite's lookups stay short)
RESTART_TIMEOUT = 0.1  # seconds the RESTART checkpoint waits for other processes' readers and writers


class WalCheckpointer:
    def __init__(self, store: Store, interval: float = 1.0, gate: threading.Lock | None = None,
                 restart_frames: int = RESTART_FRAMES) -> None:
        self.store = store
        self.interval = interval
        self.gate = gate or threading.Lock()
        self.restart_frames = restart_frames
        self.checkpoints = 0
        self.restarts = 0
        self.last: tuple[int, int, int] | None = None  # (busy, WAL frames, frames moved) of the last one
        database = store.engine.url.database
        on_disk = store.engine.dialect.name == "sqlite" and database not in (None, "", ":memory:")
        self.path: str | None = str(database) if on_disk else None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def active(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self.path is None or self._thread is not None:
            return
        # On checkout rather than on connect: the pool already holds connections made before the HSS started.
        event.listen(self.store.engine, "checkout", _autocheckpoint_off)
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="sigcore-wal-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join(10.0)
        event.remove(self.store.engine, "checkout", _autocheckpoint_off)

    def checkpoint(self, conn: sqlite3.Connection) -> None:
        busy, wal_pages, moved = self.last = _checkpoint(conn, "PASSIVE")
        self.checkpoints += 1
        if busy:
            log.debug("WAL checkpoint busy: %d of %d pages moved", moved, wal_pages)
        if wal_pages >= self.restart_frames:
            self.restart(conn)

    def restart(self, conn: sqlite3.Connection) -> None:
        """Start the log over: a RESTART checkpoint while the HSS's own batches wait (`gate`). If another
        process keeps it busy past RESTART_TIMEOUT it gives up; the next round tries again."""
        with self.gate:
            busy, wal_pages, moved = self.last = _checkpoint(conn, "RESTART")
        if busy:
            log.debug("WAL restart busy: %d of %d pages moved", moved, wal_pages)
        else:
            self.restarts += 1

    def _serve(self) -> None:
        assert self.path is not None
        conn = sqlite3.connect(self.path, timeout=RESTART_TIMEOUT, check_same_thread=False)
        try:
            while not self._stop.wait(self.interval):
                try:
                    self.checkpoint(conn)
                except sqlite3.Error as err:  # the next round tries again; the WAL only grows meanwhile
                    log.warning("WAL checkpoint failed: %s", err)
            self.checkpoint(conn)  # leave a short log behind
        finally:
            conn.close()


def _checkpoint(conn: sqlite3.Connection, mode: str) -> tuple[int, int, int]:
    """(busy, frames in the log, frames moved); the cursor is closed, so no statement stays open."""
    cursor = conn.execute(f"PRAGMA wal_checkpoint({mode})")
    try:
        busy, frames, moved = cursor.fetchone()
    finally:
        cursor.close()
    return int(busy), int(frames), int(moved)


def _autocheckpoint_off(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
    if record.info.get(_FLAG):
        return
    dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")
    record.info[_FLAG] = True
