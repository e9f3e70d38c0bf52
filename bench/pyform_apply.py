"""What the rt_pyform transform costs per relayed AIR/AIA pair: `PyformTransform.apply` on one, in-process.

The AIR is `sigcore bench`'s (sigcore.loadgen.requests), as the transform sees it; the AIA is the
null responder's answer to it (sigcore.loadgen.responder); the script is bench/dra.py's IMSI reversal. Each is
timed best-of-N with `timeit`, with the compiled walk (`sigcore.dra._pyform`, where it was built) and with the
Python walk, in rounds that alternate the cases in one process, so the two rows compare on any machine.

Usage: .venv/bin/python bench/pyform_apply.py [--number 20000] [--repeat 7] [--loop compiled|python PAIRS]
"""

from __future__ import annotations

import argparse
import tempfile
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dra import IMSI_REVERSAL
from sigcore.diameter.dictionary import DICTIONARY as D
from sigcore.dra import pyform
from sigcore.dra.pyform import PyformTransform
from sigcore.dra.script_errors import ScriptErrors
from sigcore.dra.scriptmodule import ScriptModule
from sigcore.loadgen import requests
from sigcore.loadgen.responder import _HEADER, Responder


def pair() -> tuple[bytes, bytes]:
    """An AIR as the relay's transform sees it (before the relay adds its Route-Record) and the null
    responder's AIA to it."""
    air = requests.air(requests.Target(), "mme.localdomain", 1)
    _, fc, app, hbh, e2e = _HEADER.unpack_from(air)
    body = Responder._session_id(air) + Responder("hss.localdomain", "localdomain").app_tail
    aia = _HEADER.pack(1 << 24 | (20 + len(body)), 0x40 << 24 | (fc & 0xFFFFFF), app, hbh, e2e) + body
    return air, aia


def timed(t: PyformTransform, frame: bytes, walk: Callable[..., Any] | None, number: int) -> float:
    """µs per apply of ``frame`` with ``walk`` (None: the Python walk), one timeit round."""
    pyform._walk = walk
    return timeit.timeit(lambda: t.apply(frame), number=number) / number * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--number", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--loop", nargs=2, metavar=("WALK", "PAIRS"),
                    help="only apply both messages PAIRS times with WALK (compiled or python), untimed: for "
                         "callgrind, run with PAIRS and with 0 and subtract")
    args = ap.parse_args()
    air, aia = pair()
    compiled = pyform._walk
    walks = {"compiled": compiled, "python": None} if compiled is not None else {"python": None}
    best: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "imsi_reversal.py").write_text(IMSI_REVERSAL)
        t = PyformTransform(ScriptModule(directory, "imsi_reversal", "transform"), D, ScriptErrors())
        if args.loop:
            pyform._walk = walks[args.loop[0]]
            for _ in range(int(args.loop[1])):
                t.apply(air)
                t.apply(aia)
            return
        for _ in range(args.repeat):  # rounds alternate the cases, so a busy moment does not hit one alone
            for name, walk in walks.items():
                for kind, frame in (("AIR", air), ("AIA", aia)):
                    us = timed(t, frame, walk, args.number)
                    best[name, kind] = min(us, best.get((name, kind), us))
        pyform._walk = compiled
    for name in walks:
        a, b = best[name, "AIR"], best[name, "AIA"]
        print(f"{name:9} AIR {a:6.2f} µs  AIA {b:6.2f} µs  pair {a + b:6.2f} µs")


if __name__ == "__main__":
    main()
