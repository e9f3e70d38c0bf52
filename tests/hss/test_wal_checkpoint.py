"""`WalCheckpointer`: the store's SQLite connections stop checkpointing on commit, the checkpointer's own
thread moves the WAL back into the database, the log is started over once it is long (PASSIVE alone let it grow
without end under steady writes), and server databases (or none on disk) are left alone."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

from sigcore.store import Store
from sigcore.store.checkpoint import WalCheckpointer
from support.s6a import IMSI, new_kek, provision, sqlite_url


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


def _wal_bytes(tmp_path: Path) -> int:
    wal = tmp_path / "hss.sqlite-wal"
    return wal.stat().st_size if wal.exists() else 0


def test_a_long_log_is_restarted_under_the_gate(tmp_path: Path) -> None:
    """Past `restart_frames` the checkpointer follows its PASSIVE with a RESTART, holding the batch
    worker's gate meanwhile: the next commits go to the start of the log, which stops growing."""
    store = provision(sqlite_url(tmp_path), new_kek())
    gate = threading.Lock()
    checkpointer = WalCheckpointer(store, interval=3600, gate=gate, restart_frames=64)
    checkpointer.start()  # autocheckpoint off on the store's connections from here on
    try:
        for sqn in range(32, 32 * 200, 32):
            store.set_sqn(IMSI, sqn)
        size = _wal_bytes(tmp_path)
        assert size > 64 * 4096
        held: list[bool] = []
        conn = sqlite3.connect(tmp_path / "hss.sqlite")
        try:
            original = checkpointer.restart

            def watched(c: sqlite3.Connection) -> None:
                held.append(gate.locked())
                original(c)
                held.append(gate.locked())

            checkpointer.restart = watched  # type: ignore[method-assign]
            checkpointer.checkpoint(conn)
            assert held == [False, False] and checkpointer.restarts == 1  # taken inside, released after
            busy, frames, moved = checkpointer.last or (1, 0, 0)
            assert busy == 0 and frames == moved > 64
            for sqn in range(32 * 200, 32 * 210, 32):
                store.set_sqn(IMSI, sqn)
            checkpointer.checkpoint(conn)
        finally:
            conn.close()
        assert checkpointer.last is not None and checkpointer.last[1] <= 30  # the ten commits since, not 200+
        assert checkpointer.restarts == 1 and _wal_bytes(tmp_path) == size  # the file is reused from its start
    finally:
        checkpointer.stop()
    assert store.get_auth_material(IMSI).sqn == 32 * 209
    store.close()


def _steady_writes(tmp_path: Path, restart_frames: int, commits: int) -> tuple[int, WalCheckpointer]:
    """A writer committing without pause (as the HSS at a steady rate), under the gate as the batch worker
    does, while the checkpointer runs every 20 ms; returns the largest log a checkpoint reported."""
    store = provision(sqlite_url(tmp_path), new_kek())
    gate = threading.Lock()
    checkpointer = WalCheckpointer(store, interval=0.02, gate=gate, restart_frames=restart_frames)
    checkpointer.start()
    longest = 0
    try:
        for n in range(1, commits + 1):
            with gate:
                store.set_sqn(IMSI, 32 * n)
            time.sleep(0.0002)  # the worker's loop does other work between batches (the gate is not fair)
            if checkpointer.last is not None:
                longest = max(longest, checkpointer.last[1])
    finally:
        checkpointer.stop()
    assert store.get_auth_material(IMSI).sqn == 32 * commits
    store.close()
    return longest, checkpointer


def test_the_log_stays_short_under_steady_writes(tmp_path: Path) -> None:
    """PASSIVE alone never let the log start over while commits kept coming (measured: +1,400 frames a
    second at 2,500 AIR/s, without end); with restarts it stays near `restart_frames`."""
    longest, checkpointer = _steady_writes(tmp_path, restart_frames=128, commits=3000)
    assert checkpointer.checkpoints >= 3 and checkpointer.restarts >= 3
    # 3,000 commits of a page or more each: without restarts the log reached 2,850-2,990 frames (measured)
    assert longest < 1000
