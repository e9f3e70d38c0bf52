"""Instructions per S6a request of a whole `sigcore run` process (valgrind callgrind): a figure that does not
move with the machine's noise, to compare two source trees side by side in one run.

Rates and CPU time per request on this kind of machine (a VM whose vCPUs stall and whose caches other
guests share) swing 10-20 % from run to run, so a 2 % change of the code cannot be seen in them. Here
`sigcore run` runs under callgrind; for each tree (`--src`, first the reference) and each kind:

1. a warm-up at the measured load (every subscriber's keys and profile cached);
2. an idle window (callgrind counters zeroed, then dumped): the timers and the WAL checkpointer alone;
3. a loaded window: ``lone`` = one request in flight, paced (each request is a batch of one, a loop turn of
   its own and a transaction of its own, as at light load), or ``batched`` = WINDOW in flight, unpaced;
4. (loaded - idle) / requests answered.

Under callgrind the server runs ~50 times slower, so the loads are small (12 requests a second lone).
Counting instructions says nothing of cache misses: a lone request here runs ~1.3 times the instructions of
a batched one but takes ~2.2 times the CPU time (docs/performance.md).

Usage: .venv/bin/python bench/s6a_instructions.py [--kinds air ulr] [--modes lone batched]
                                                   [--src /path/to/other/src ...] [--seconds 10]
(`--src` defaults to this tree's src; give two to compare, e.g. a `git worktree` of the previous commit.)
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from s6a import REALM, free_port, load, provision

from sigcore.store import create_key_file

SUBSCRIBERS = 50
LONE_RATE = 12.0  # requests a second with one in flight: ~15 ms each under callgrind, so never two at once
WINDOW = 16
HERE = Path(__file__).resolve().parent


def serve(src: Path, work: Path) -> tuple[subprocess.Popen[bytes], int, Path]:
    """`sigcore run` from `src` under callgrind on a fresh SQLite database; returns (process, port, out file)."""
    url = f"sqlite:///{work}/hss.sqlite"
    provision(url, create_key_file(work / "kek.hex"), SUBSCRIBERS)
    port = free_port()
    config = {"diameter": {"origin_host": "hss.localdomain", "origin_realm": REALM, "listen": [f"127.0.0.1:{port}"]},
              "database": {"url": url, "key_file": str(work / "kek.hex")},
              "api": {"enabled": False, "listen": f"127.0.0.1:{free_port()}"}, "metrics": {"enabled": False},
              "logging": {"level": "WARNING"}}
    (work / "sigcore.yaml").write_text(yaml.safe_dump(config))
    out = work / "callgrind.out"
    server = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
                               "-m", "sigcore.cli", "run", "--config", str(work / "sigcore.yaml")],
                              env={**os.environ, "PYTHONPATH": str(src)}, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return server, port, out
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"sigcore run under callgrind did not start (exit {server.poll()})") from None
            time.sleep(1)


def zero(server: subprocess.Popen[bytes]) -> None:
    """Zero the callgrind counters of `server`: what is counted next starts here."""
    subprocess.run(["callgrind_control", "-z", str(server.pid)], check=True, capture_output=True)


def counted(server: subprocess.Popen[bytes], out: Path, work: Path) -> int:
    """Dump the callgrind counters of `server` (since the last zeroing) and return the instructions."""
    before = set(work.glob(f"{out.name}*"))
    subprocess.run(["callgrind_control", "-d", str(server.pid)], check=True, capture_output=True)
    deadline = time.monotonic() + 60
    while not (new := set(work.glob(f"{out.name}*")) - before):
        if time.monotonic() > deadline:
            raise SystemExit("callgrind wrote no dump")
        time.sleep(0.2)
    time.sleep(0.5)  # the dump is written in one go, but give it time to finish
    text = max(new, key=os.path.getmtime).read_text(errors="replace")
    found = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
    if found is None:
        raise SystemExit("no totals in the callgrind dump")
    return int(found.group(1))


def measure(src: Path, kinds: list[str], modes: list[str], seconds: float) -> dict[tuple[str, str], float]:
    """Instructions per request of each (kind, mode), for the server started from `src`."""
    results: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory(prefix="sigcore-instr-") as tmp:
        work = Path(tmp)
        server, port, out = serve(src, work)
        try:
            for kind in kinds:
                load(port, kind, 1, 1, seconds, SUBSCRIBERS, LONE_RATE)  # warm-up
                zero(server)
                time.sleep(seconds)
                idle = counted(server, out, work)
                for mode in modes:
                    lone = mode == "lone"
                    zero(server)
                    rate, _, errors = load(port, kind, 1, 1 if lone else WINDOW, seconds, SUBSCRIBERS,
                                           LONE_RATE if lone else None)
                    busy = counted(server, out, work)
                    if errors:
                        raise SystemExit(f"{kind} {mode}: {errors} answers were not 2001")
                    results[(kind, mode)] = (busy - idle) / max(1.0, rate * seconds)
        finally:
            server.terminate()
            server.wait(60)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kinds", nargs="+", choices=("air", "ulr"), default=["air", "ulr"])
    ap.add_argument("--modes", nargs="+", choices=("lone", "batched"), default=["lone", "batched"])
    ap.add_argument("--src", nargs="+", type=Path, default=[HERE.parent / "src"],
                    help="source trees to run the server from, the first one the reference")
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    print(f"python {sys.executable} ({sys.version.split()[0]}); {SUBSCRIBERS} subscribers, SQLite")
    table = {src: measure(src, args.kinds, args.modes, args.seconds) for src in args.src}
    reference = table[args.src[0]]
    print(f"{'kind':5} {'mode':8} " + " ".join(f"{str(src)[-28:]:>30}" for src in args.src))
    for key in reference:
        cells = []
        for src in args.src:
            value = table[src][key]
            change = "" if src == args.src[0] else f" ({100 * (value / reference[key] - 1):+.1f} %)"
            cells.append(f"{value:,.0f}{change}".rjust(30))
        print(f"{key[0]:5} {key[1]:8} " + " ".join(cells))


if __name__ == "__main__":
    main()
