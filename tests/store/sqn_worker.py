"""One process of the multi-process SQN test: reserve SQNs in a loop, print them as JSON lines.

Run as ``python sqn_worker.py URL IMSI RESERVATIONS GO_FILE``; it waits for GO_FILE so that all workers
start contending at the same moment.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from sigcore.store import Store

IND_BITS = 5


def next_sqns(stored: int, count: int) -> list[int]:
    """TS 33.102 Annex C style: SEQ + 1 and IND + 1 (mod 2^IND_BITS) per vector."""
    out = []
    for _ in range(count):
        seq, ind = stored >> IND_BITS, stored & ((1 << IND_BITS) - 1)
        stored = ((seq + 1) << IND_BITS) | ((ind + 1) % (1 << IND_BITS))
        out.append(stored)
    return out


def main() -> None:
    url, imsi, reservations, go_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    store = Store(url, None)
    while not go_file.exists():
        time.sleep(0.005)
    for i in range(reservations):
        count = 1 + i % 3
        values = store.reserve_sqns(imsi, count, lambda sqn, n=count: next_sqns(sqn, n))  # type: ignore[misc]
        print(json.dumps(values), flush=True)
    store.close()


if __name__ == "__main__":
    main()
