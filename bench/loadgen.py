"""Helpers shared by the over-TCP benchmarks (bench/s6a.py, bench/cx.py): the load-generating client,
latency percentiles and the server's CPU time read from /proc."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sigcore.diameter import DICTIONARY as D


def pct(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))] * 1000


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


def client_process(client: Callable[..., Awaitable[Any]], args: tuple[Any, ...], out: Any,
                   cpus: set[int] | None) -> None:
    """A client process's body (`multiprocessing.Process` target): on ``cpus`` if given, run
    ``client(*args)`` in its own event loop and put the result on the ``out`` queue."""
    if cpus:
        os.sched_setaffinity(0, cpus)
    out.put(asyncio.run(client(*args)))


RESULT_2001 = D.build("Result-Code", 2001).to_bytes()


async def drive(port: int, cer: bytes, templates: list[bytearray], window: int, seconds: float,
                rate: float | None = None, late: tuple[float, list[tuple[float, float]]] | None = None,
                ) -> tuple[list[float], int]:
    """One Diameter connection: CER, then the pre-encoded request ``templates`` in turn (only the
    hop-by-hop/end-to-end ids patched) with at most ``window`` in flight, for ``seconds``; paced to ``rate``
    per second when given (open loop). Returns the latencies and how many answers were not 2001.
    ``late`` = (threshold in seconds, list): each answer slower than that adds (send time, latency) there;
    `time.perf_counter` is the system's monotonic clock, so the clients' lists can be merged."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    writer.write(cer)
    head = await reader.readexactly(20)
    await reader.readexactly(int.from_bytes(head[1:4], "big") - 20)
    sent: dict[int, float] = {}
    latencies: list[float] = []
    errors = hbh = 0
    done = asyncio.Event()
    free = asyncio.Semaphore(window)

    async def read() -> None:
        nonlocal errors
        while True:
            head = await reader.readexactly(20)
            body = await reader.readexactly(int.from_bytes(head[1:4], "big") - 20)
            t0 = sent.pop(int.from_bytes(head[12:16], "big"), None)
            if t0 is None:
                continue  # a DWR from the server
            latency = time.perf_counter() - t0
            latencies.append(latency)
            if late is not None and latency > late[0]:
                late[1].append((t0, latency))
            errors += RESULT_2001 not in body
            free.release()
            if done.is_set() and not sent:
                return

    reading = asyncio.create_task(read())
    interval = 1.0 / rate if rate else 0.0
    stop_at = next_send = time.perf_counter()
    stop_at += seconds
    while time.perf_counter() < stop_at:
        await free.acquire()
        if interval:
            next_send += interval
            delay = next_send - time.perf_counter()
            if delay > 0.0005:
                await asyncio.sleep(delay)
        hbh += 1
        frame = templates[hbh % len(templates)]
        struct.pack_into("!II", frame, 12, hbh, hbh)
        sent[hbh] = time.perf_counter()
        writer.write(bytes(frame))
    done.set()
    await asyncio.wait_for(reading, 60)
    writer.close()
    return latencies, errors


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
