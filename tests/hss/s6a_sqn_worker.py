"""One process of the S6a SQN safety test: the HSS's own AIR path (BatchWorker + AuthService) in a loop.

``python s6a_sqn_worker.py URL IMSI AIRS GO_FILE [crash]`` with the KEK in $SIGCORE_KEK. Waits for GO_FILE,
then runs AIRS vector requests (1 to 3 E-UTRAN vectors each, 16 in flight so batches really form) and prints
one JSON line per vector: RAND and AUTN in hex, in the order this process received them. With ``crash``
it dies (os._exit) inside the first transaction, after the SQN update and before the commit.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

from sigcore.hss.auth import AuthService, VectorRequest
from sigcore.store import Store, load_kek
from sigcore.store.batch import BatchWorker
from sigcore.toolkit import plmn

IN_FLIGHT = 16


async def main() -> None:
    url, imsi, airs, go_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    crash = len(sys.argv) > 5 and sys.argv[5] == "crash"
    store = Store(url, load_kek(None, "SIGCORE_KEK"))
    worker = BatchWorker(store)
    if crash:
        worker.fail_before_commit = lambda _kind: os._exit(3)
    auth = AuthService(store, worker)
    worker.start()
    home = plmn.encode("001", "01")
    while not go_file.exists():
        await asyncio.sleep(0.005)
    pending = iter(range(airs))

    async def client() -> None:
        for i in pending:
            vectors = await auth.vectors(VectorRequest(imsi, home, eutran=1 + i % 3))
            for v in vectors.eutran:
                print(json.dumps([v.rand.hex(), v.autn.hex()]))

    await asyncio.gather(*(client() for _ in range(IN_FLIGHT)))
    sys.stdout.flush()
    await worker.stop()
    store.close()


if __name__ == "__main__":
    started = time.monotonic()
    asyncio.run(main())
