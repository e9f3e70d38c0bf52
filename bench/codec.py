"""Codec throughput: sigcore vs python-diameter 0.9 in the same run, on an S6a AIR and a ~40-AVP ULA.

What is timed, per message:
  sigcore encode  = build every AVP from Python values + serialise (what a handler does per answer):
                    Dictionary.message(code, app, flags, [(name, value), ...]).encode(); the value list
                    is built once, like python-diameter's pre-resolved values (--rebuild-values times
                    building the list too)
  sigcore decode  = Dictionary.items(bytes): every AVP at every level decoded to its Python value, as
                    (name, value) pairs (what python-diameter's decode does, and the fair comparison)
  sigcore lazy    = Message.decode(bytes): header + top-level AVP index; grouped AVPs and values are
                    decoded on access (what the node, a relay or a routing decision does)
  sigcore decode+validate = decode + validation against the command's CCF: every grouped level
                    parsed, every value checked (what the node does before a handler runs)
  python-diameter encode = the same AVPs built from the same values with Avp.new() + Message.as_bytes()
  python-diameter decode = Message.from_bytes() (full parse into its typed objects)

Run: .venv/bin/python bench/codec.py [--seconds 2 --rounds 10]  (best round of each, interleaved)

Rates are per second of this process's CPU time by default (--clock cpu): on a shared, loaded machine
wall time mostly measures how long the process waited for a core, and both sides wait alike only on
average. --clock wall gives wall-clock rates.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from samples import (
    AIR,
    ULA,
    Sample,
    Spec,
    air_spec,
    count_avps,
    python_diameter_builder,
    ula_spec,
)

from sigcore.diameter import DICTIONARY, Message


def rate(fn: Callable[[], object], seconds: float, clock: Callable[[], float]) -> float:
    n = 0
    batch = 200
    start = clock()
    deadline = start + seconds
    while True:
        for _ in range(batch):
            fn()
        n += batch
        now = clock()
        if now >= deadline:
            return n / (now - start)


def best_rates(fns: list[Callable[[], object]], seconds: float, rounds: int,
               clock: Callable[[], float]) -> list[float]:
    """Interleave the candidates in short rounds and keep each one's best round, so a load spike on a
    shared machine hits both sides alike instead of skewing the ratio."""
    best = [0.0] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            best[i] = max(best[i], rate(fn, seconds / rounds, clock))
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0, help="time per candidate, split into rounds")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                    help="rates per second of process CPU time (default) or of wall time")
    ap.add_argument("--rebuild-values", action="store_true",
                    help="time building the (name, value) list on every sigcore encode as well")
    args = ap.parse_args()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    try:
        from diameter.message import Message as PdMessage
    except ImportError:
        sys.exit("python-diameter is not installed: pip install python-diameter==0.9.0")

    rows = []
    cases = ((AIR, air_spec, python_diameter_builder(air_spec(), AIR.code, True)),
             (ULA, ula_spec, python_diameter_builder(ula_spec(), ULA.code, False)))
    for kind, make_spec, pd_build in cases:
        label = kind.label
        wire = kind.build(make_spec()).encode()
        DICTIONARY.validate(Message.decode(wire))
        pd_msg = PdMessage.from_bytes(wire)
        # python-diameter re-emits grouped children in its own attribute order, so compare sizes only.
        assert len(pd_msg.as_bytes()) == len(wire), "python-diameter must re-encode the whole message"
        assert len(pd_build()) == len(wire), "both sides must build the same message"
        spec = make_spec()

        def sc_encode(kind: Sample = kind, spec: Spec = spec, make_spec: Callable[[], Spec] = make_spec,
                      rebuild: bool = args.rebuild_values) -> None:
            kind.build(make_spec() if rebuild else spec).encode()

        def sc_decode(wire: bytes = wire) -> None:
            Message.decode(wire)

        def sc_items(wire: bytes = wire) -> None:
            DICTIONARY.items(wire)

        def sc_validate(wire: bytes = wire) -> None:
            DICTIONARY.validate(Message.decode(wire))

        def pd_decode(wire: bytes = wire) -> None:
            PdMessage.from_bytes(wire)

        assert DICTIONARY.encode_items(DICTIONARY.items(wire)) == wire[20:], "the full decode must be complete"
        rates = best_rates([sc_encode, pd_build, sc_items, sc_decode, sc_validate, pd_decode], args.seconds,
                           args.rounds, clock)
        rows.append((label, count_avps(Message.decode(wire)), len(wire), *rates))

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"clock: {args.clock}; sigcore encode {'re' if args.rebuild_values else 'pre'}builds its value list; "
          f"load average {load}")
    print(f"{'msg':4} {'AVPs':>4} {'bytes':>5} | {'encode/s sigcore':>16} {'py-diameter':>11} {'x':>5} |"
          f" {'decode/s sigcore':>16} {'py-diameter':>11} {'x':>5} | {'lazy':>8} {'x':>5} |"
          f" {'lazy+validate':>13} {'x':>5}")
    for label, navps, size, se, pe, si, sd, sv, pd in rows:
        print(f"{label:4} {navps:4} {size:5} | {se:16,.0f} {pe:11,.0f} {se / pe:5.1f} |"
              f" {si:16,.0f} {pd:11,.0f} {si / pd:5.1f} | {sd:8,.0f} {sd / pd:5.1f} | {sv:13,.0f} {sv / pd:5.1f}")


if __name__ == "__main__":
    main()
