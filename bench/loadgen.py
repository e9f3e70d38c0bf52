"""Helpers shared by the over-TCP benchmarks (bench/s6a.py, bench/cx.py, bench/dra.py): the load-generating
client (`sigcore bench`'s, from `sigcore.loadgen`), latency percentiles and the server's CPU time from /proc."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from sigcore.loadgen.driver import drive as loadgen_drive
from sigcore.loadgen.driver import pct

__all__ = ["client_process", "cpu_seconds", "drive", "episodes", "pct", "pinned_cpus"]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")




def pinned_cpus(pin: bool) -> tuple[set[int] | None, set[int] | None]:
    """(the server's CPU, the clients' CPUs) with ``pin`` on a machine with two or more, else (None, None):
    the targets are "on one core", and unpinned a client woken by an answer runs on the server's CPU."""
    cpus = sorted(os.sched_getaffinity(0))
    if not pin or len(cpus) < 2:
        return None, None
    return {cpus[-1]}, set(cpus[:-1])


def client_process(client: Callable[..., Coroutine[Any, Any, Any]], args: tuple[Any, ...], out: Any,
                   cpus: set[int] | None) -> None:
    """A client process's body (`multiprocessing.Process` target): on ``cpus`` if given, run
    ``client(*args)`` in its own event loop and put the result on the ``out`` queue."""
    if cpus:
        os.sched_setaffinity(0, cpus)
    out.put(asyncio.run(client(*args)))


async def drive(port: int, cer: bytes, templates: list[bytearray], window: int, seconds: float,
                rate: float | None = None, late: tuple[float, list[tuple[float, float]]] | None = None,
                ) -> tuple[list[float], int]:
    """One connection of `sigcore bench`'s generator (`sigcore.loadgen.driver.drive`) with one request kind:
    returns the latencies and how many answers were not 2001; ``late`` = (threshold in seconds, list) gets
    (send time, latency) of every answer slower than the threshold."""
    result = await loadgen_drive(port, cer, [(0, t) for t in templates], window, seconds, rate,
                                 late[0] if late is not None else None)
    if late is not None:
        late[1].extend(result.late)
    errors = sum(n for code, n in result.results.items() if code != 2001) + result.unanswered
    return result.latencies.get(0, []), errors


def episodes(late: list[tuple[float, float]], gap: float = 0.010) -> str:
    """The late answers (send time, latency) grouped into episodes: sends less than ``gap`` apart belong
    together. A few long episodes in which nearly every answer is late point at stalls (the machine, a
    collection, a checkpoint); late answers spread thinly over the run point at a server short of CPU."""
    if not late:
        return "none"
    late = sorted(late)
    groups: list[list[tuple[float, float]]] = [[late[0]]]
    for item in late[1:]:
        if item[0] - groups[-1][-1][0] < gap:
            groups[-1].append(item)
        else:
            groups.append([item])
    longest = max(groups, key=len)
    span = longest[-1][0] + longest[-1][1] - longest[0][0]
    return (f"{len(late)} in {len(groups)} episode(s); the largest {len(longest)} answers over {span * 1000:.0f} ms, "
            f"worst {max(lat for _, lat in late) * 1000:.1f} ms")
