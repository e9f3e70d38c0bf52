"""How much slower this machine runs the same request-sized work after idle gaps.

A request's work (encode a ~40-AVP ULA, decode and validate it, decode it fully, commit one SQLite row in WAL
mode) in a loop, with sleeps of 0, 0.5, 1, 3 and 10 ms between iterations; prints the median and p90 thread
CPU time per iteration for each gap. On a VM whose idle vCPU loses its caches (or its clock) the same work
costs more CPU after a gap: that is the floor under a server's CPU per request at light load, whatever the
server does.

Run: .venv/bin/python bench/idle_gaps.py
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from samples import ULA, ula_spec

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.message import Message


def main() -> None:
    spec = ula_spec()
    with tempfile.TemporaryDirectory() as work:
        db = sqlite3.connect(Path(work) / "gaps.sqlite", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b BLOB)")

        def work_once() -> None:
            wire = ULA.build(spec).encode()
            D.validate(Message.decode(wire))
            D.items(wire)
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT OR REPLACE INTO t VALUES (1, ?)", (wire,))
            db.execute("COMMIT")

        for _ in range(200):
            work_once()
        for gap in (0.0, 0.0005, 0.001, 0.003, 0.01):
            times = []
            for _ in range(300):
                t0 = time.thread_time()
                work_once()
                times.append(time.thread_time() - t0)
                if gap:
                    time.sleep(gap)
            times.sort()
            print(f"gap {gap * 1e3:4.1f} ms: work median {times[150] * 1e6:5.0f} µs, p90 {times[270] * 1e6:5.0f} µs")
        db.close()


if __name__ == "__main__":
    main()
