"""Time and peak memory of `sigcore subscriber import` on a generated SIM batch (default 100k rows).

    .venv/bin/python bench/import.py [--rows N] [--url sqlite:///...|postgresql://...]

Generates a CSV (IMSI, ICCID, Ki, OPc, MSISDN, APN), runs the real CLI command in this process against a
fresh SQLite database (or the given empty database) and reports wall time, rows/s and the peak RSS
growth of the import (and tracemalloc's peak of Python allocations, with --tracemalloc; slower).
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import secrets
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import yaml
from typer.testing import CliRunner


def write_batch(path: Path, rows: int) -> None:
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["IMSI", "ICCID", "Ki", "OPc", "MSISDN", "APN", "PIN1", "PUK1"])
        for n in range(rows):
            out.writerow([f"00101{n:010d}", f"89010100{n:012d}", secrets.token_hex(16), secrets.token_hex(16),
                          f"1555{n:07d}", "internet", "1234", "12345678"])


def max_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--url", help="an empty database (default: a fresh SQLite file)")
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--tracemalloc", action="store_true", help="also report Python allocation peak")
    args = parser.parse_args()

    from sigcore.cli import app

    with tempfile.TemporaryDirectory(prefix="sigcore-bench-import-") as tmp:
        work = Path(tmp)
        batch = work / "batch.csv"
        t0 = time.perf_counter()
        write_batch(batch, args.rows)
        print(f"generated {args.rows} rows ({batch.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s")
        kek = work / "kek.hex"
        kek.write_text(secrets.token_hex(32))
        url = args.url or f"sqlite:///{work / 'hss.sqlite'}"
        config = work / "sigcore.yaml"
        config.write_text(yaml.safe_dump({"database": {"url": url, "key_file": str(kek)}}))
        rss_before = max_rss_kib()
        if args.tracemalloc:
            tracemalloc.start()
        t0 = time.perf_counter()
        result = CliRunner().invoke(app, ["subscriber", "import", str(batch), "--chunk", str(args.chunk),
                                          "--config", str(config)])
        elapsed = time.perf_counter() - t0
        if result.exit_code != 0:
            print(result.output, file=sys.stderr)
            return 1
        print(result.output.strip().splitlines()[-1])
        print(f"import: {elapsed:.1f} s, {args.rows / elapsed:,.0f} rows/s, backend {url.split(':', 1)[0]}")
        print(f"peak RSS {max_rss_kib() / 1024:.0f} MiB (growth during import: "
              f"{(max_rss_kib() - rss_before) / 1024:.0f} MiB)")
        if args.tracemalloc:
            _, peak = tracemalloc.get_traced_memory()
            print(f"tracemalloc peak: {peak / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("COLUMNS", "120")
    sys.exit(main())
