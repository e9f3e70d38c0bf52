"""What the rt_pyform transform costs per relayed AIR/AIA pair: `PyformTransform.apply` on one, in-process.

The AIR is `sigcore bench`'s (sigcore.loadgen.requests) with the Route-Record the relay adds; the AIA is the
null responder's answer to it (sigcore.loadgen.responder); the script is bench/dra.py's IMSI reversal. Each is
timed best-of-N with `timeit`, with the compiled walk (`sigcore.dra._pyform`, where it was built) and with the
Python walk, side by side in one process, so the two rows compare on any machine.

Usage: .venv/bin/python bench/pyform_apply.py [--number 20000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import tempfile
import timeit
from pathlib import Path

from dra import IMSI_REVERSAL
from sigcore.diameter.dictionary import DICTIONARY as D
from sigcore.dra import pyform
from sigcore.dra.pyform import PyformTransform
from sigcore.dra.script_errors import ScriptErrors
from sigcore.dra.scriptmodule import ScriptModule
from sigcore.loadgen import requests
from sigcore.loadgen.responder import _HEADER, Responder


def pair() -> tuple[bytes, bytes]:
    """A relayed AIR (with the relay's Route-Record) and the null responder's AIA to it."""
    air = requests.air(requests.Target(), "mme.localdomain", 1)
    rr = D.encode_items([("Route-Record", "relay.localdomain")])
    air = (len(air) + len(rr) | 1 << 24).to_bytes(4, "big") + air[4:] + rr
    _, fc, app, hbh, e2e = _HEADER.unpack_from(air)
    body = Responder._session_id(air) + Responder("hss.localdomain", "localdomain").app_tail
    aia = _HEADER.pack(1 << 24 | (20 + len(body)), 0x40 << 24 | (fc & 0xFFFFFF), app, hbh, e2e) + body
    return air, aia


def best(t: PyformTransform, frame: bytes, number: int, repeat: int) -> float:
    """Best µs per apply of ``frame``."""
    return min(timeit.repeat(lambda: t.apply(frame), number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--number", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    air, aia = pair()
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "imsi_reversal.py").write_text(IMSI_REVERSAL)
        t = PyformTransform(ScriptModule(directory, "imsi_reversal", "transform"), D, ScriptErrors())
        compiled = getattr(pyform, "_walk", None)
        walks = [("compiled", compiled), ("python", None)] if compiled is not None else [("python", None)]
        for name, walk in walks:
            pyform._walk = walk
            a, b = best(t, air, args.number, args.repeat), best(t, aia, args.number, args.repeat)
            print(f"{name:9} AIR {a:6.2f} µs  AIA {b:6.2f} µs  pair {a + b:6.2f} µs  ({t.calls} calls so far)")
        pyform._walk = compiled


if __name__ == "__main__":
    main()
