"""`WalCheckpointer`: the store's SQLite connections stop checkpointing on commit, the checkpointer's own
thread moves the WAL back into the database, and server databases (or none on disk) are left alone."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from s6a_harness import IMSI, new_kek, provision, sqlite_url

from sigcore.hss.checkpoint import WalCheckpointer
from sigcore.store import Store


def _autocheckpoint(store: Store) -> int:
    with store.reading() as conn:
        return int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())


def test_commits_leave_checkpoints_to_the_checkpointer(tmp_path: Path) -> None:
    store = provision(sqlite_url(tmp_path), new_kek())
    checkpointer = WalCheckpointer(store, interval=0.05)
    try:
        assert _autocheckpoint(store) == 1000  # SQLite's default before the HSS starts
        checkpointer.start()
        assert checkpointer.active
        assert _autocheckpoint(store) == 0
        for sqn in range(32, 32 * 300, 32):
            store.set_sqn(IMSI, sqn)
        deadline = time.monotonic() + 30
        while checkpointer.checkpoints < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert checkpointer.checkpoints >= 2
    finally:
        checkpointer.stop()
    assert not checkpointer.active
    assert store.get_auth_material(IMSI).sqn == 32 * 299  # nothing lost on the way
    store.close()
    with sqlite3.connect(tmp_path / "hss.sqlite") as conn:  # the data is in the database file itself
        conn.execute("PRAGMA journal_mode=DELETE")
        assert conn.execute("SELECT sqn FROM auth_data").fetchone()[0] == 32 * 299


def test_stop_checkpoints_and_nothing_runs_without_a_database_file(tmp_path: Path) -> None:
    store = provision(sqlite_url(tmp_path), new_kek())
    checkpointer = WalCheckpointer(store, interval=3600)
    checkpointer.start()
    for sqn in range(32, 32 * 50, 32):
        store.set_sqn(IMSI, sqn)
    checkpointer.stop()  # the last checkpoint on the way out
    assert checkpointer.checkpoints == 1 and checkpointer.last is not None
    busy, frames, moved = checkpointer.last
    assert busy == 0 and frames > 0 and moved == frames  # the 49 commits' frames, all in the database now
    store.close()
    with Store("sqlite://", os.urandom(32), auto_migrate=True) as memory:
        idle = WalCheckpointer(memory)
        idle.start()
        assert not idle.active and idle.path is None
        idle.stop()
