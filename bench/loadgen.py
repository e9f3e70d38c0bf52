"""Helpers shared by the over-TCP benchmarks (bench/s6a.py, bench/cx.py): latency percentiles and the
server's CPU time read from /proc."""

from __future__ import annotations

import os
from pathlib import Path


def pct(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))] * 1000


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


