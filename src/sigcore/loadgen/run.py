"""A whole load run: connections spread over client processes, progress once a second, one report."""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sigcore.loadgen.driver import ConnectionResult, drive, pct
from sigcore.loadgen.requests import KINDS, Target, cer, interleave


@dataclass(slots=True)
class LoadSpec:
    port: int
    host: str = "127.0.0.1"
    mix: list[tuple[str, int]] = field(default_factory=lambda: [("air", 1)])
    connections: int = 4
    window: int = 32
    rate: float | None = None  # requests per second over all connections; None: as fast as answered
    duration: float = 10.0
    users: int = 1000
    target: Target = field(default_factory=Target)
    processes: int = 1
    origin_prefix: str = "bench"
    late_after: float | None = None
    cpus: set[int] | None = None  # client processes' CPUs
    #: seconds to wait after the load for the answers still due (diameter.timers.request_timeout's default:
    #: a request unanswered that long is one a peer would have given up on)
    answer_timeout: float = 10.0


@dataclass(slots=True)
class KindReport:
    answered: int
    rate: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float


@dataclass(slots=True)
class LoadReport:
    duration: float
    sent: int
    answered: int
    unanswered: int
    rate: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    results: dict[str, int]
    kinds: dict[str, KindReport]
    late: list[tuple[float, float]] = field(default_factory=list, repr=False)
    lost_connections: int = 0  # connections the node closed (or that broke) before the run ended
    dpr_connections: int = 0  # ... of which with a DPR (a node that stops gracefully)

    def to_json(self) -> str:
        data = asdict(self)
        del data["late"]
        return json.dumps(data, indent=2, sort_keys=True)

    def text(self) -> str:
        lines = [f"{'kind':6} {'answered':>9} {'rate/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}"]
        rows = [*self.kinds.items(), ("all", KindReport(self.answered, self.rate, self.p50_ms, self.p90_ms,
                                                        self.p99_ms, self.max_ms))]
        for name, k in rows:
            lines.append(f"{name:6} {k.answered:9d} {k.rate:9.0f} {k.p50_ms:8.2f} {k.p90_ms:8.2f} {k.p99_ms:8.2f} "
                         f"{k.max_ms:8.2f}")
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(self.results.items(), key=lambda kv: int(kv[0])))
        lines.append(f"sent {self.sent}, unanswered {self.unanswered}; Result-Codes {codes or 'none'}")
        return "\n".join(lines)


TEMPLATES = 4096
"""Requests built per connection, each for one user: a connection cycles through at most this many users."""


def _templates(spec: LoadSpec, origin: str, first: int, count: int) -> list[tuple[int, bytearray]]:
    names = [k for k, _ in spec.mix]
    order = interleave(spec.mix, min(TEMPLATES, max(count, sum(w for _, w in spec.mix))))
    return [(names.index(kind), bytearray(KINDS[kind][1](spec.target, origin, first + i % max(1, count))))
            for i, kind in enumerate(order)]


def user_ranges(users: int, connections: int) -> list[tuple[int, int]]:
    """Each connection's users as (first offset, count): every one of ``users`` is used, split as evenly as
    they go; with fewer users than connections, connections share them."""
    if users < connections:
        return [(c % users, 1) for c in range(connections)]
    bounds = [c * users // connections for c in range(connections + 1)]
    return [(bounds[c], bounds[c + 1] - bounds[c]) for c in range(connections)]


async def _process_body(spec: LoadSpec, conn_ids: list[int], counter: Any) -> list[ConnectionResult]:
    ranges = user_ranges(spec.users, spec.connections)
    apps = {KINDS[k][0] for k, _ in spec.mix}
    rate = spec.rate / spec.connections if spec.rate else None
    pending = [0]

    def on_answer() -> None:
        pending[0] += 1
        if pending[0] >= 256:
            with counter.get_lock():
                counter.value += pending[0]
            pending[0] = 0

    async def one(c: int) -> ConnectionResult:
        origin = f"{spec.origin_prefix}{c}.{spec.target.origin_realm}"
        templates = _templates(spec, origin, *ranges[c])
        return await drive(spec.port, cer(spec.target, origin, apps), templates, spec.window, spec.duration,
                           rate, spec.late_after, spec.host, on_answer, spec.answer_timeout)

    return list(await asyncio.gather(*(one(c) for c in conn_ids)))


def _process_main(spec: LoadSpec, conn_ids: list[int], counter: Any, out: Any) -> None:
    if spec.cpus:
        os.sched_setaffinity(0, spec.cpus)
    try:
        out.put(asyncio.run(_process_body(spec, conn_ids, counter)))
    except (OSError, asyncio.IncompleteReadError) as err:
        out.put(describe_failure(err, spec))
    except Exception as err:  # a bug of ours: the parent must hear of it now, not at its deadline
        out.put(f"internal error in the load generator ({type(err).__name__}: {err}); please report it")


def describe_failure(err: BaseException, spec: LoadSpec) -> str:
    """One line for the user, naming the node, not the exception class."""
    where = f"{spec.host}:{spec.port}"
    if isinstance(err, ConnectionRefusedError):
        return f"cannot connect to {where}: connection refused (is the node listening there?)"
    if isinstance(err, TimeoutError):  # the CER's (the driver waits 10 s for the CEA)
        return f"{where} did not answer the CER"
    if isinstance(err, asyncio.IncompleteReadError):
        return f"{where} closed the connection"
    if isinstance(err, OSError) and err.errno is not None:
        return f"{where}: {err.strerror or err}"
    return f"{where}: {err}"  # ours: the CER refused


class LoadError(Exception):
    """A client could not connect or its CER was refused."""


def run_load(spec: LoadSpec, progress: Callable[[float, int], None] | None = None) -> LoadReport:
    """Run ``spec``; ``progress(elapsed seconds, answers so far)`` about once a second."""
    ctx = mp.get_context("fork")
    counter = ctx.Value("q", 0)
    out = ctx.Queue()
    nproc = max(1, min(spec.processes, spec.connections))
    groups = [list(range(p, spec.connections, nproc)) for p in range(nproc)]
    procs = [ctx.Process(target=_process_main, args=(spec, g, counter, out), daemon=True) for g in groups]
    start = time.perf_counter()
    for p in procs:
        p.start()
    results: list[ConnectionResult] = []
    deadline = start + spec.duration + spec.answer_timeout + 30
    got = 0
    errors: list[str] = []
    while got < len(procs):
        try:
            item = out.get(timeout=1.0)
        except Exception:  # queue.Empty: report progress and wait on
            if progress is not None:
                progress(time.perf_counter() - start, int(counter.value))
            if time.perf_counter() > deadline:
                break
            continue
        got += 1
        if isinstance(item, str):
            errors.append(item)
        else:
            results.extend(item)
    for p in procs:
        p.join(5)
        if p.is_alive():
            p.kill()
    if errors:
        raise LoadError("; ".join(dict.fromkeys(errors)))  # each process reports the same refusal
    return _report(spec, results)


def _report(spec: LoadSpec, results: list[ConnectionResult]) -> LoadReport:
    names = [k for k, _ in spec.mix]
    by_kind: dict[int, list[float]] = {}
    codes: dict[str, int] = {}
    for r in results:
        for kind, lat in r.latencies.items():
            by_kind.setdefault(kind, []).extend(lat)
        for code, n in r.results.items():
            codes[str(code)] = codes.get(str(code), 0) + n
    everything = sorted(x for lats in by_kind.values() for x in lats)
    d = spec.duration

    def kind_report(lats: list[float]) -> KindReport:
        lats.sort()
        return KindReport(len(lats), len(lats) / d, pct(lats, 50), pct(lats, 90), pct(lats, 99),
                          lats[-1] * 1000 if lats else float("nan"))

    kinds = {names[k]: kind_report(lats) for k, lats in sorted(by_kind.items())}
    whole = kind_report(everything)
    return LoadReport(d, sum(r.sent for r in results), whole.answered, sum(r.unanswered for r in results),
                      whole.rate, whole.p50_ms, whole.p90_ms, whole.p99_ms, whole.max_ms, codes, kinds,
                      [x for r in results for x in r.late], sum(r.lost for r in results), sum(r.left for r in results))
