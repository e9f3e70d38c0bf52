"""Codec throughput: sigcore vs python-diameter 0.9 in the same run, on an S6a AIR and a ~40-AVP ULA.

What is timed, per message:
  sigcore encode  = build every AVP from Python values + serialise (what a handler does per answer)
  sigcore decode  = parse + validate against the command's CCF (all grouped levels, every value checked)
  python-diameter encode = Message.as_bytes() of an already-built message object (less work than ours)
  python-diameter decode = Message.from_bytes() (full parse into its typed objects)

Run: .venv/bin/python bench/codec.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from samples import build_air, build_ula, count_avps

from sigcore.diameter import DICTIONARY, Message


def rate(fn: Callable[[], object], seconds: float) -> float:
    n = 0
    batch = 200
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(batch):
            fn()
        n += batch
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=1.0)
    args = ap.parse_args()
    try:
        from diameter.message import Message as PdMessage
    except ImportError:
        sys.exit("python-diameter is not installed: pip install python-diameter==0.9.0")

    rows = []
    for label, build in (("AIR", build_air), ("ULA", build_ula)):
        wire = build().encode()
        DICTIONARY.validate(Message.decode(wire))
        pd_msg = PdMessage.from_bytes(wire)
        # python-diameter re-emits grouped children in its own attribute order, so compare sizes only.
        assert len(pd_msg.as_bytes()) == len(wire), "python-diameter must re-encode the whole message"

        def sc_decode(wire: bytes = wire) -> None:
            DICTIONARY.validate(Message.decode(wire))

        def sc_encode(build: Callable[[], Message] = build) -> None:
            build().encode()

        rows.append((label, count_avps(Message.decode(wire)), len(wire),
                     rate(sc_encode, args.seconds), rate(pd_msg.as_bytes, args.seconds),
                     rate(sc_decode, args.seconds), rate(lambda w=wire: PdMessage.from_bytes(w), args.seconds)))

    print(f"{'msg':4} {'AVPs':>4} {'bytes':>5} | {'encode/s sigcore':>16} {'python-diameter':>15} {'x':>5} |"
          f" {'decode/s sigcore':>16} {'python-diameter':>15} {'x':>5}")
    for label, navps, size, se, pe, sd, pd in rows:
        print(f"{label:4} {navps:4} {size:5} | {se:16,.0f} {pe:15,.0f} {se / pe:5.1f} |"
              f" {sd:16,.0f} {pd:15,.0f} {sd / pd:5.1f}")


if __name__ == "__main__":
    main()
