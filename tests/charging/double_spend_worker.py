"""One process of the double-spending test: 50 concurrent Gy sessions (threads) on one shared account,
each asking units until 4012, reporting the units it used; prints a JSON summary."""

from __future__ import annotations

import json
import sys
import threading
from decimal import Decimal

from sigcore.charging import ccr
from sigcore.charging.ccr import CreditRequest, ServiceRequest, Units
from sigcore.charging.engine import ChargingEngine
from sigcore.charging.repo import ChargingStore
from sigcore.store import Store

ASK = Decimal(5000)


def session(engine: ChargingEngine, sid: str, totals: list[Decimal], lock: threading.Lock) -> None:
    used = Decimal(0)
    granted = Decimal(0)
    kind = ccr.INITIAL
    while True:
        svc = ServiceRequest(7, Units("*data", ASK, "CC-Total-Octets"),
                             [Units("*data", granted, "CC-Total-Octets")] if granted else [])
        answer = ccr.apply(engine, CreditRequest(sid, kind, "cgrates.org", "shared", "pgw", "localdomain", "pgw",
                                                 [svc]), 600)
        used += granted
        (result,) = answer.services
        granted = result.granted.amount if result.granted is not None else Decimal(0)
        kind = ccr.UPDATE
        if result.result_code != ccr.SUCCESS or result.final:
            break
    # the last grant is used too, and reported in the CCR-T
    ccr.apply(engine, CreditRequest(sid, ccr.TERMINATION, "cgrates.org", "shared", "pgw", "localdomain", "pgw",
                                    [ServiceRequest(7, None, [Units("*data", granted, "CC-Total-Octets")])]), 600)
    used += granted
    with lock:
        totals.append(used)


def main() -> None:
    url, index, sessions, key = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), bytes.fromhex(sys.argv[4])
    # PostgreSQL's default max_connections is 100: 8 processes share it; threads queue for a connection
    store = Store(url, key, pool_size=3)
    engine = ChargingEngine(ChargingStore(store))
    totals: list[Decimal] = []
    lock = threading.Lock()
    threads = [threading.Thread(target=session, args=(engine, f"p{index};s{n}", totals, lock))
               for n in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.poster.close()
    store.close()
    print(json.dumps({"sessions": len(totals), "used": str(sum(totals, Decimal(0)))}))


if __name__ == "__main__":
    main()
