"""bench/s6a.py's full-load AIR and ULR rates and server CPU time per request for two (or more) source
trees, interleaved: round after round, each tree's `sigcore run` in turn, so the load of a shared machine
hits them alike. Prints each round and the median per tree.

Usage: .venv/bin/python bench/s6a_interleaved.py --src /path/to/main/src src [--rounds 3] [--seconds 5]
(each tree is put first on PYTHONPATH for bench/s6a.py and the server it starts.)
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FULL = re.compile(r"^(air|ulr)\s+full\s+(\d+)\s.*?(\d+) us$", re.M)


def one_run(src: Path, seconds: float) -> dict[str, tuple[float, float]]:
    out = subprocess.run([sys.executable, str(HERE / "s6a.py"), "--seconds", str(seconds), "--no-half"],
                         env={**os.environ, "PYTHONPATH": str(src.resolve())}, capture_output=True, text=True,
                         timeout=600, check=True).stdout
    return {kind: (float(rate), float(cpu)) for kind, rate, cpu in FULL.findall(out)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", nargs="+", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    rates: dict[Path, list[dict[str, tuple[float, float]]]] = {src: [] for src in args.src}
    for n in range(args.rounds):
        for src in args.src:
            got = one_run(src, args.seconds)
            rates[src].append(got)
            print(f"round {n + 1} {src!s:>40}: " + "  ".join(
                f"{k} {rate:7.0f}/s {cpu:4.0f} us CPU/req" for k, (rate, cpu) in got.items()), flush=True)
    print("median:")
    for src, runs in rates.items():
        print(f"{src!s:>48}: " + "  ".join(
            f"{kind} {statistics.median(r[kind][0] for r in runs):7.0f}/s "
            f"{statistics.median(r[kind][1] for r in runs):4.0f} us CPU/req" for kind in ("air", "ulr")))


if __name__ == "__main__":
    main()
