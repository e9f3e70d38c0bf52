"""Cost of the metrics on the Diameter hot path.

1. Micro: one counter increment, one answer counted (result extraction + counter + latency histogram),
   one inbound frame tap.
2. Macro: requests/s of a sigcore Node answering a credit-control stand-in over loopback TCP, with the
   metrics hooks attached and without, alternating runs, best of each.

    .venv/bin/python bench/metrics_overhead.py [--requests 4000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from metrics.helpers import ccr, start_pair, stop_pair
from sigcore.diameter.answers import Identity, answer
from sigcore.diameter.message import Message
from sigcore.metrics.diameter import NodeMetrics
from sigcore.metrics.registry import Registry


def micro() -> None:
    registry = Registry()
    metrics = NodeMetrics(registry)
    req = Message.decode(ccr(1).encode())
    frame = req.raw or b""
    ans = answer(req, Identity("hss.localdomain", "localdomain"), 2001)
    n = 200_000
    key = ("dia_answers", 4, 272, 0, 2001)
    inc = timeit.timeit(lambda: registry.inc(key), number=n) / n
    both = timeit.timeit(lambda: (metrics.frame_tap("in", None, frame), metrics.answer_sent(req, ans)),
                         number=n) / n
    print(f"counter increment:                    {inc * 1e9:7.0f} ns")
    print(f"frame tap + answer counted (+latency): {both * 1e9:7.0f} ns per request")


async def throughput(requests: int, with_metrics: bool) -> float:
    pair = await start_pair(Registry())
    if not with_metrics:  # detach: the node as it runs with metrics.enabled: false
        pair.server.on_answer_sent = None
        pair.server.on_peer_change = None
        pair.server.taps.clear()
    try:
        batch = 50
        start = time.perf_counter()
        for first in range(0, requests, batch):
            await asyncio.gather(*(pair.client.request(ccr(n), timeout=10) for n in range(first, first + batch)))
        return requests / (time.perf_counter() - start)
    finally:
        await stop_pair(pair)


async def macro(requests: int, rounds: int) -> None:
    best = {True: 0.0, False: 0.0}
    for _ in range(rounds):
        for on in (False, True):
            best[on] = max(best[on], await throughput(requests, on))
    cost = (best[False] - best[True]) / best[False] * 100
    print(f"node dispatch, metrics off: {best[False]:8.0f} req/s")
    print(f"node dispatch, metrics on:  {best[True]:8.0f} req/s   (cost {cost:+.1f}%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    micro()
    asyncio.run(macro(args.requests, args.rounds))


if __name__ == "__main__":
    main()
