"""LIR latency against the worst wildcarded PSI an operator can write (TS 23.003 §13.5 syntax), side by side
with an LIR for a stored IMPU (the reference) and the matching alone, in one process and one run.

The worst pattern puts the wildcarded part first and a long, nearly matching literal after it; the URIs
are as long as the column holds (255) and miss at the last character, so '.*' is tried at every split.
The Cx application's LIR handler is called directly (no network): what is measured is the handler with its store reads.

Usage: .venv/bin/python bench/psi_wildcard.py [--lirs 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from ims.hss_fixture import make_store
from ims.test_cx import CTX, SCSCF, _req
from sigcore.hss.cx.handlers import CxService
from sigcore.hss.ims.codes import CxCommand
from sigcore.store import psi_wildcard
from support.handlers import served

WORST = "sip:!.*!" + "a" * 200 + "b@x"
NEAR_MISS = "sip:" + "a" * 249 + "@x"


async def lir_seconds(cx: CxService, uri: str, count: int) -> float:
    request: Any = _req(CxCommand.LIR, ("Public-Identity", uri))
    app = cx.application()
    started = time.perf_counter()
    for _ in range(count):
        await served(app, request, CTX)
    return (time.perf_counter() - started) / count


async def both(cx: CxService, count: int) -> tuple[float, float]:
    """Interleaved rounds on one loop (the batch worker is bound to it): the best round of each."""
    reference, worst = [], []
    for _ in range(5):
        reference.append(await lir_seconds(cx, "sip:alice@localdomain", count // 5))
        worst.append(await lir_seconds(cx, NEAR_MISS, count // 5))
    return min(reference), min(worst)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lirs", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        cx = CxService(make_store(Path(folder), scscf=SCSCF))
        cx.settings.home_networks = ("localdomain",)
        cx.ims.add_psi(WORST, wildcard=WORST, scscf=SCSCF)
        reference, worst = asyncio.run(both(cx, args.lirs))
        started = time.perf_counter()
        for _ in range(args.lirs):
            psi_wildcard.matches(WORST, NEAR_MISS)
        match_only = (time.perf_counter() - started) / args.lirs
    print(f"LIR, stored IMPU (reference)        {reference * 1e6:9.1f} us")
    print(f"LIR, worst wildcard, near miss      {worst * 1e6:9.1f} us")
    print(f"matching alone (255-char URI)       {match_only * 1e6:9.1f} us")


if __name__ == "__main__":
    main()
