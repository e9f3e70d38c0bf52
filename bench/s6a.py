"""S6a throughput and latency of one `sigcore run` process over real TCP: AIR/s and ULR/s.

Starts `sigcore run` (one process, one event loop, one database thread) on a fresh SQLite database (or the
PostgreSQL URL given) with SUBSCRIBERS subscribers, then for AIR and for ULR:

1. full load: CLIENTS client processes, each one Diameter connection with WINDOW requests in flight,
   spread over all subscribers, for SECONDS; prints the rate and the latency percentiles;
2. half that rate, paced (open loop), and the latency percentiles there (`--paced` other fractions of it,
   `--rates` fixed rates: `--rates 2500` is half of issue #3's 5,000/s target).

The clients are sigcore's codec on raw asyncio sockets with pre-encoded requests (only the hop-by-hop and
end-to-end ids are patched), so they cost little; on a small machine they still share the CPU with the
server, which the report prints (server CPU seconds per request, from /proc). `--profile FILE` runs the
server under cProfile and prints its top functions at the end; `--py-spy DIR` samples the running server
with py-spy during each full-load and paced window only (no start-up, no warm-up, little overhead) and prints the
functions with the most samples, own and inclusive: what limits the rate.

`--workers N` runs `sigcore run --workers N` (N processes on the one port; the server is then not pinned,
its CPU is the sum over the workers, and each client connection lands on the worker the kernel's
SO_REUSEPORT hash picks: give more clients than workers).

Usage: .venv/bin/python bench/s6a.py [--seconds 5] [--clients 2] [--window 64] [--subscribers 2000]
                                     [--database-url postgresql://...] [--profile /tmp/s6a.prof]
                                     [--metrics on|off|both] [--rounds 3] [--redis-url redis://...]
                                     [--kinds air ulr] [--no-half] [--paced 0.5 0.25] [--rates 2500]
                                     [--warmup 2]
                                     [--py-spy /tmp/s6a-spy] [--capture] [--no-pin] [--workers 2]

`--capture` records each paced run with tcpdump on the loopback (whole packets) and prints the server's own
request→answer latency from the capture (tshark pairs requests and answers by hop-by-hop id): the clients'
figures include their own scheduling on a shared machine, the capture's do not. Needs tcpdump, tshark and
the right to capture (root).

On a machine with two CPUs or more the server runs on the last CPU and the clients on the others
(`sched_setaffinity`; `--no-pin` lets the scheduler place them): the target is "on one core", and
unpinned, a client woken by an answer runs on the server's CPU and preempts it (a lone answer's `send()`
took 148 µs of the server's wall time unpinned, 26 µs pinned).

`--metrics both` measures the cost of metrics: servers with metrics off and on alternate (so the load of
a shared machine hits both alike), and the median full-load rates are compared at the end.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import pstats
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from loadgen import client_process, cpu_seconds, drive, episodes, pct, pinned_cpus

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.message import Message
from sigcore.store import Store, create_key_file, migrate
from sigcore.toolkit import plmn

S6A, VENDOR = 16777251, 10415
K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
HOME = plmn.encode("001", "01")
REALM = "localdomain"


def imsi_of(i: int) -> str:
    return f"00101{i:010d}"


# --- requests ---------------------------------------------------------------------------------------
def _common(origin: str, n: int, imsi: str) -> list[tuple[str, object]]:
    return [
        ("Session-Id", f"{origin};bench;{n}"),
        ("Vendor-Specific-Application-Id", [("Vendor-Id", VENDOR), ("Auth-Application-Id", S6A)]),
        ("Auth-Session-State", 1),
        ("Origin-Host", origin),
        ("Origin-Realm", REALM),
        ("Destination-Realm", REALM),
        ("User-Name", imsi),
    ]


def air(origin: str, n: int, imsi: str) -> bytes:
    avps = [*_common(origin, n, imsi),
            ("Requested-EUTRAN-Authentication-Info", [("Number-Of-Requested-Vectors", 1),
                                                      ("Immediate-Response-Preferred", 0)]),
            ("Visited-PLMN-Id", HOME)]
    return Message(318, S6A, 0xC0, 0, 0, D.build_many(avps)).encode()


def ulr(origin: str, n: int, imsi: str) -> bytes:
    avps = [*_common(origin, n, imsi), ("RAT-Type", 1004), ("ULR-Flags", 0b10), ("Visited-PLMN-Id", HOME)]
    return Message(316, S6A, 0xC0, 0, 0, D.build_many(avps)).encode()


def cer(origin: str) -> bytes:
    avps = [("Origin-Host", origin), ("Origin-Realm", REALM), ("Host-IP-Address", "127.0.0.1"), ("Vendor-Id", 0),
            ("Product-Name", "bench"), ("Supported-Vendor-Id", VENDOR),
            ("Vendor-Specific-Application-Id", [("Vendor-Id", VENDOR), ("Auth-Application-Id", S6A)])]
    return Message(257, 0, 0x80, 1, 1, D.build_many(avps)).encode()


# --- one client process -----------------------------------------------------------------------------
async def _client(port: int, kind: str, origin: str, first: int, count: int, window: int, seconds: float,
                  rate: float | None) -> tuple[int, list[float], int, list[tuple[float, float]]]:
    make = air if kind == "air" else ulr
    templates = [bytearray(make(origin, i, imsi_of(first + i % count))) for i in range(min(count, 4096))]
    late: list[tuple[float, float]] = []
    latencies, errors = await drive(port, cer(origin), templates, window, seconds, rate, (LATE, late))
    return len(latencies), latencies, errors, late


def load(port: int, kind: str, clients: int, window: int, seconds: float, subscribers: int,
         total_rate: float | None, cpus: set[int] | None = None,
         late: list[tuple[float, float]] | None = None) -> tuple[float, list[float], int]:
    """``late``: gets the (send time, latency) of every answer slower than `LATE`, all clients merged."""
    out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    share = subscribers // clients
    per_client = total_rate / clients if total_rate else None
    procs = [mp.Process(target=client_process,
                        args=(_client, (port, kind, f"mme{c}.{REALM}", c * share, share, window, seconds, per_client),
                              out, cpus))
             for c in range(clients)]
    for p in procs:
        p.start()
    results = [out.get(timeout=seconds + 60) for _ in procs]
    for p in procs:
        p.join()
    answered = sum(r[0] for r in results)
    latencies = sorted(x for r in results for x in r[1])
    if late is not None:
        late.extend(x for r in results for x in r[3])
    return answered / seconds, latencies, sum(r[2] for r in results)


# --- the server -------------------------------------------------------------------------------------
def provision(url: str, kek: bytes, count: int) -> None:
    migrate(url)
    with Store(url, kek) as store:
        store.ensure_apn("internet")
        have = store.count_subscribers()
        for i in range(have, count):
            store.add_subscriber(imsi_of(i), ki=K, opc=OPC, apns=["internet"], msisdn=f"1555{i:07d}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_and_measure(args: argparse.Namespace, work: Path, url: str,
                      metrics: bool) -> dict[str, tuple[float, float]]:
    """Start `sigcore run` (metrics.enabled = `metrics`), load it, stop it; per kind, the full-load rate and
    the server's CPU seconds per request."""
    port = free_port()
    metrics_cfg: dict[str, object] = {"enabled": metrics}
    if metrics and args.redis_url:
        metrics_cfg["redis"] = {"url": args.redis_url}
    config = {"diameter": {"origin_host": "hss.localdomain", "origin_realm": REALM, "listen": [f"127.0.0.1:{port}"]},
              "database": {"url": url, "key_file": str(work / "kek.hex")},
              "api": {"enabled": False, "listen": f"127.0.0.1:{free_port()}"}, "metrics": metrics_cfg,
              "logging": {"level": "WARNING"}}
    (work / "sigcore.yaml").write_text(yaml.safe_dump(config))
    prefix = [sys.executable] + (["-m", "cProfile", "-o", args.profile] if args.profile else [])
    server_cpus, client_cpus = pinned_cpus(args.pin and args.workers == 1)
    workers = ["--workers", str(args.workers)] if args.workers > 1 else []
    server = subprocess.Popen([*prefix, "-m", "sigcore.cli", "run", "--config", str(work / "sigcore.yaml"), *workers],
                              preexec_fn=(lambda: os.sched_setaffinity(0, server_cpus)) if server_cpus else None)
    rates: dict[str, tuple[float, float]] = {}
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        while args.workers > 1 and len(Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
                                       ) < args.workers:
            time.sleep(0.1)
        time.sleep(3.0 if args.workers > 1 else 0.0)  # every worker listening before the first client connects
        print(f"metrics {'on' if metrics else 'off'}" + (" (Redis flush)" if metrics and args.redis_url else "")
              + (f"; server on CPU {sorted(server_cpus)}, clients on {sorted(client_cpus or ())}"
                 if server_cpus else ""))
        print(f"{'':4} {'load':>10} {'rate/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'server CPU/req':>15}")
        for kind in args.kinds:
            # warm-up: connections, and the caches (keys, profiles) for most subscribers: steady state
            load(port, kind, args.clients, args.window, args.warmup, args.subscribers, None, client_cpus)
            spy = start_py_spy(args.py_spy, server.pid, kind, args.seconds) if args.py_spy else None
            cpu0 = tree_cpu_seconds(server.pid)
            rate, lat, errors = load(port, kind, args.clients, args.window, args.seconds, args.subscribers, None,
                                     client_cpus)
            cpu = (tree_cpu_seconds(server.pid) - cpu0) / max(1, rate * args.seconds)
            if spy is not None:
                spy.wait(60)
            rates[kind] = (rate, cpu)
            print(f"{kind:4} {'full':>10} {rate:9.0f} {pct(lat, 50):8.2f} {pct(lat, 99):8.2f} {errors:7d} "
                  f"{cpu * 1e6:12.0f} us")
            paced_runs = [] if args.no_half else [
                *((rate * f, "half" if f == 0.5 else f"{f:.2f}x") for f in args.paced),
                *((float(r), f"{r:.0f}/s") for r in args.rates)]
            for target, label in paced_runs:
                tag = f"{kind}-{label.replace('/', '')}"  # the run's file names: air-half, air-2500s
                capture = Capture(port, work / f"{tag}.pcap") if args.capture else None
                spy = start_py_spy(args.py_spy, server.pid, tag, args.seconds) if args.py_spy else None
                cpu0 = tree_cpu_seconds(server.pid)
                late: list[tuple[float, float]] = []
                paced, lat, errors = load(port, kind, args.clients, args.window, args.seconds, args.subscribers,
                                          target, client_cpus, late)
                cpu = (tree_cpu_seconds(server.pid) - cpu0) / max(1, paced * args.seconds)
                if spy is not None:
                    spy.wait(60)
                print(f"{kind:4} {label:>10} {paced:9.0f} {pct(lat, 50):8.2f} {pct(lat, 99):8.2f} {errors:7d} "
                      f"{cpu * 1e6:12.0f} us")
                print(f"{'':4} {'':>10} answers over {LATE * 1000:g} ms: {episodes(late)}")
                if capture is not None:
                    wire = capture.latencies(COMMAND_CODES[kind])
                    print(f"{'':4} {'on wire':>10} {len(wire):9d} {pct(wire, 50):8.2f} {pct(wire, 99):8.2f}"
                          f"   (answers matched; server-side request→answer)")
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(60)
    return rates


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of `pid` and its children (the workers of ``--workers``)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return cpu_seconds(pid) + sum(cpu_seconds(int(child)) for child in children)


COMMAND_CODES = {"air": 318, "ulr": 316}
LATE = 0.005  # issue #3's p99 bound: paced runs say how the answers slower than this are spread in time


class Capture:
    """tcpdump on the loopback for one port, started at once; `latencies(code)` stops it and pairs the
    requests and answers of that command by hop-by-hop id (per connection) in the capture."""

    def __init__(self, port: int, path: Path) -> None:
        self.port = port
        self.path = path
        self._proc = subprocess.Popen(["tcpdump", "-i", "lo", "-s", "0", "-B", "65536", "-U", "-w", str(path),
                                       f"tcp port {port}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 5
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._proc.poll() is not None:
            raise SystemExit(f"tcpdump failed: {self._proc.stderr.read().decode() if self._proc.stderr else ''}")
        time.sleep(0.3)

    def latencies(self, code: int) -> list[float]:
        time.sleep(0.3)
        self._proc.send_signal(signal.SIGINT)
        self._proc.wait(10)
        fields = subprocess.run(
            ["tshark", "-r", str(self.path), "-d", f"tcp.port=={self.port},diameter",
             "-Y", f"diameter.cmd.code=={code}", "-T", "fields", "-e", "frame.time_epoch",
             "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "diameter.hopbyhopid", "-e", "diameter.flags.request"],
            capture_output=True, text=True, check=True).stdout
        sent: dict[tuple[str, str], float] = {}
        out: list[float] = []
        for line in fields.splitlines():
            at, src, dst, hops, requests = line.split("\t")
            client = src if int(dst) == self.port else dst
            for hop, request in zip(hops.split(","), requests.split(","), strict=True):  # messages per frame
                if request in ("1", "True"):
                    sent[(client, hop)] = float(at)
                elif (t0 := sent.pop((client, hop), None)) is not None:
                    out.append(float(at) - t0)
        self.path.unlink(missing_ok=True)
        return sorted(out)


def start_py_spy(directory: str, pid: int, kind: str, seconds: float) -> subprocess.Popen[bytes]:
    """py-spy sampling `pid` for `seconds` into DIRECTORY/KIND.txt (collapsed stacks, one per line)."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen([str(spy), "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
                             "--rate", "250", "--format", "raw", "--nonblocking", "--output",
                             str(Path(directory) / f"{kind}.txt")], stdout=subprocess.DEVNULL)


def summarise_py_spy(path: Path, top: int = 15) -> None:
    """The functions with most samples in a py-spy raw file: own (the leaf frame) and inclusive."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [_frame_name(f) for f in stack.split(";")]
        own[frames[-1]] = own.get(frames[-1], 0) + n
        roots = [i for i, f in enumerate(frames) if f in _DISPATCH_ROOTS]
        for frame in set(frames[roots[-1]:] if roots else frames):  # what the loop or a thread ran, not main()
            inclusive[frame] = inclusive.get(frame, 0) + n
    window = "full load" if "-" not in path.stem else f"the paced run at {path.stem.partition('-')[2]}"
    print(f"\n{path.stem}: {total} samples of the server during {window}")
    for title, table in (("own", own), ("inclusive", inclusive)):
        print(f"  by {title} samples:")
        for name, n in sorted(table.items(), key=lambda kv: -kv[1])[:top]:
            print(f"    {100 * n / max(1, total):5.1f} %  {name}")


_DISPATCH_ROOTS = frozenset({"events.py:Handle._run", "thread.py:_worker", "base_events.py:BaseEventLoop._run_once"})


def _frame_name(frame: str) -> str:
    """``function (path/module.py:123)`` -> ``module.py:function``: one entry per function, not per line."""
    function, _, where = frame.partition(" (")
    return f"{where.rstrip(')').rsplit(':', 1)[0].rsplit('/', 1)[-1]}:{function}"


def compare_metrics(runs: list[tuple[bool, dict[str, tuple[float, float]]]], kinds: list[str]) -> None:
    """Medians with metrics off and on over the interleaved runs: full-load rate and server CPU per request
    (the CPU cost is the steadier number on a shared machine), and the cost of metrics in percent."""
    print(f"\nmetrics cost over {len(runs)} interleaved runs (medians; load average now "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}):")
    for kind in kinds:
        rate = {m: statistics.median(r[kind][0] for on, r in runs if on is m) for m in (False, True)}
        cpu = {m: statistics.median(r[kind][1] for on, r in runs if on is m) * 1e6 for m in (False, True)}
        every = ", ".join(f"{'on' if m else 'off'} {r[kind][0]:.0f}" for m, r in runs)
        print(f"{kind:4} rate off {rate[False]:6.0f}/s on {rate[True]:6.0f}/s: "
              f"{100 * (rate[True] - rate[False]) / rate[False]:+5.1f} %   ({every})")
        print(f"{kind:4} CPU/request off {cpu[False]:4.0f} us on {cpu[True]:4.0f} us: "
              f"{100 * (cpu[True] - cpu[False]) / cpu[False]:+5.1f} %")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--subscribers", type=int, default=2000)
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--profile", default=None, help="run the server under cProfile, write the stats here")
    ap.add_argument("--metrics", choices=("on", "off", "both"), default="off",
                    help="metrics.enabled of the server; 'both' alternates off/on servers --rounds times each")
    ap.add_argument("--rounds", type=int, default=3, help="with --metrics both: runs of each setting")
    ap.add_argument("--redis-url", default=None, help="with metrics on: flush the counters to this Redis")
    ap.add_argument("--kinds", nargs="+", choices=("air", "ulr"), default=["air", "ulr"])
    ap.add_argument("--no-half", action="store_true", help="skip the paced (half-rate) latency runs")
    ap.add_argument("--paced", nargs="*", type=float, default=[0.5], metavar="FRACTION",
                    help="paced runs at these fractions of the full-load rate (default: half)")
    ap.add_argument("--rates", nargs="*", type=float, default=[], metavar="PER_SECOND",
                    help="paced runs at these fixed rates too, e.g. 2500: half of the issue's 5,000/s target")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds of full load before each measured kind")
    ap.add_argument("--capture", action="store_true",
                    help="capture each paced run (tcpdump) and print the server-side latency from the wire")
    ap.add_argument("--no-pin", dest="pin", action="store_false",
                    help="let the scheduler place the server and the clients (default: server on the last CPU, "
                         "clients on the others)")
    ap.add_argument("--workers", type=int, default=1, help="sigcore run --workers N (N processes, one port)")
    ap.add_argument("--py-spy", default=None, metavar="DIR",
                    help="sample the server with py-spy in each measured window; raw stacks to DIR/KIND[-LABEL].txt")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="sigcore-bench-"))
    url = args.database_url or f"sqlite:///{work / 'hss.sqlite'}"
    kek = create_key_file(work / "kek.hex")
    t0 = time.perf_counter()
    provision(url, kek, args.subscribers)
    print(f"database: {url.split('@')[-1]}, {args.subscribers} subscribers ({time.perf_counter() - t0:.1f} s); "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    settings = {"off": [False], "on": [True], "both": [False, True] * args.rounds}[args.metrics]
    runs = [(metrics, serve_and_measure(args, work, url, metrics)) for metrics in settings]
    if args.metrics == "both":
        compare_metrics(runs, args.kinds)
    if args.profile:
        print(f"\nserver profile ({args.profile}), top 25 by own time:")
        pstats.Stats(args.profile).sort_stats("tottime").print_stats(25)
    if args.py_spy:
        for path in sorted(Path(args.py_spy).glob("*.txt")):
            summarise_py_spy(path)


if __name__ == "__main__":
    main()
