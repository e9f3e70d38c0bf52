"""SQLite WAL checkpoints off the hot path.

In WAL mode SQLite copies the log back into the database file (a checkpoint) whenever a commit leaves the
log over ``wal_autocheckpoint`` pages (1,000 by default): that commit then writes and fsyncs on the spot.
On SQLite the HSS commits its batches on the event loop (`batch.BatchWorker`), so every few hundred
batches one AIR or ULR waited for a disk flush: the p99 spikes of bench/s6a.py.

`WalCheckpointer` turns automatic checkpoints off on the store's connections and runs a PASSIVE checkpoint
from its own thread and its own connection every `interval` seconds instead. PASSIVE never blocks readers
or the writer; the sqlite3 module releases the GIL while it works, so the loop keeps answering during the
fsync. Durability is unchanged (the WAL is the commit; the checkpoint only moves pages). Other processes
on the same file (the CLI, another HSS) keep their own automatic checkpoints. Server databases: nothing.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Any

from sqlalchemy import event

from sigcore.store import Store

log = logging.getLogger("sigcore.hss.checkpoint")
_FLAG = "sigcore_wal_autocheckpoint_off"


class WalCheckpointer:
    def __init__(self, store: Store, interval: float = 1.0) -> None:
        self.store = store
        self.interval = interval
        self.checkpoints = 0
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
        busy, wal_pages, moved = self.last = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.checkpoints += 1
        if busy:
            log.debug("WAL checkpoint busy: %d of %d pages moved", moved, wal_pages)

    def _serve(self) -> None:
        assert self.path is not None
        conn = sqlite3.connect(self.path, check_same_thread=False)
        try:
            while not self._stop.wait(self.interval):
                try:
                    self.checkpoint(conn)
                except sqlite3.Error as err:  # the next round tries again; the WAL only grows meanwhile
                    log.warning("WAL checkpoint failed: %s", err)
            self.checkpoint(conn)  # leave a short log behind
        finally:
            conn.close()


def _autocheckpoint_off(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
    if record.info.get(_FLAG):
        return
    dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")
    record.info[_FLAG] = True
