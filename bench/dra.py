"""Relay throughput and added latency: sigcore's DRA against freeDiameterd 1.2.1 (rt_default), same run.

Each relay in turn sits between `sigcore bench`'s load generator (sigcore.loadgen) and a null responder
(sigcore.loadgen.responder: answers every request 2001 at once), pinned to one CPU (the last; the clients and
the responder share the others):

* `direct`: the load straight to the responder, paced, for the baseline latency;
* `tcp-proxy`: bench/tcp_proxy.py, a byte pipe with the relay's extra sockets and no Diameter: the floor of
  what any relay adds on this machine;
* `c-pipe`: bench/c_pipe.c, the same byte pipe compiled (one thread, epoll; built with `cc` into the run's
  directory): the floor of what even a compiled relay adds here;
* `freediameterd`: freeDiameterd 1.2.1, rt_default `* : "hss.localdomain" += 10`, AppServThreads = 4;
* `sigcore`: `sigcore run` with `hss.enabled: false` and a `dra` section routing everything to the responder;
* `sigcore+pyform`: the same with the seed's IMSI reversal as a `dra.pyform` transform (the seed's logic,
  without its print() calls and with the `return` its text lost).

For each: the full-load rate (CONNECTIONS x WINDOW requests in flight, AIR) and the relay's CPU time per
relayed pair (from /proc: all its threads), "per CPU-s" being the pairs one fully available core would relay;
then paced runs at half the full rate and at LOW_RATE, with the relay's CPU per pair in them; "added p50"
is the relay's p50 minus the direct p50 at the same rate (the direct runs go straight to the responder), the
median of ``--repeat`` pairs of runs (each figure's runs are in the JSON).

Usage: .venv/bin/python bench/dra.py [--seconds 5] [--connections 4] [--window 32] [--relays ...]
                                     [--no-half] [--low-rate 1000] [--repeat 3] [--py-spy DIR] [--profile FILE]
                                     [--json FILE] [--no-pin]

`--py-spy DIR` samples the sigcore relay during its full-load window (what limits its rate);
`--profile FILE` runs it under cProfile instead. The machine is shared: run it twice, compare same-run rows.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from loadgen import cpu_seconds, pinned_cpus

from sigcore.loadgen.requests import Target
from sigcore.loadgen.run import LoadReport, LoadSpec, run_load

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the interop harness's freeDiameter config writer
from tests.interop.freediameter import ConnectPeer, FreeDiameterConfig, FreeDiameterd, RouteRule  # noqa: E402

RESPONDER = "hss.localdomain"
REALM = "localdomain"
RELAYS = ("tcp-proxy", "c-pipe", "freediameterd", "sigcore", "sigcore+pyform")
IMSI_REVERSAL = '''def transform(appId, flags, cmdCode, HBH_ID, E2E_ID, AVP_Code, vendorID, value):
    #IMSI Translation - if App ID = 16777251 and the AVP being evaluated is the Username
    if (int(appId) == 16777251) and int(AVP_Code) == 1:
        value = str(value[::-1]).zfill(15)
    return value
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def pin_argv(cpus: set[int] | None) -> list[str]:
    return ["taskset", "-c", ",".join(map(str, sorted(cpus)))] if cpus else []


class Relay:
    """One relay under test: started pinned, listening on ``port``, connected to the responder."""

    def __init__(self, kind: str, work: Path, responder_port: int, cpus: set[int] | None,
                 args: argparse.Namespace) -> None:
        self.kind = kind
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.fd: FreeDiameterd | None = None
        self.spy: subprocess.Popen[bytes] | None = None
        directory = work / kind.replace("+", "-")
        directory.mkdir()
        if kind == "tcp-proxy":  # the floor: a byte pipe with the same extra sockets, no Diameter
            self.proc = subprocess.Popen([*pin_argv(cpus), sys.executable, str(Path(__file__).with_name(
                "tcp_proxy.py")), str(self.port), str(responder_port)])
            self.pid = self.proc.pid
            wait_listening(self.port)
            return
        if kind == "c-pipe":
            binary = directory / "c_pipe"
            subprocess.run(["cc", "-O2", "-o", str(binary), str(Path(__file__).with_name("c_pipe.c"))], check=True)
            self.proc = subprocess.Popen([*pin_argv(cpus), str(binary), str(self.port), str(responder_port)])
            self.pid = self.proc.pid
            wait_listening(self.port)
            return
        if kind == "freediameterd":
            cfg = FreeDiameterConfig(identity="relay.localdomain", realm=REALM, port=self.port, dump_messages=False,
                                     connect_peers=[ConnectPeer(RESPONDER, responder_port)],
                                     allowed_peers=["*.localdomain"], routes=[RouteRule.default_route_to(RESPONDER)],
                                     extra_lines=["AppServThreads = 4;"])
            self.fd = FreeDiameterd(cfg, directory)
            # pinned, and without the harness's -dd (a log line per message would be what we measure)
            self.fd.argv = [*pin_argv(cpus), *(a for a in self.fd.argv if a != "-dd")]
            self.fd.start()
            self.fd.wait_for_state(RESPONDER)
            assert self.fd.pid is not None, "freeDiameterd started"
            self.pid = self.fd.pid
            return
        dra: dict[str, object] = {"routes": [{"name": "all", "peers": [RESPONDER]}]}
        if kind.endswith("+pyform"):
            (directory / "imsi_reversal.py").write_text(IMSI_REVERSAL)
            dra["pyform"] = {"directory": str(directory), "module": "imsi_reversal"}
        config = {"diameter": {"origin_host": "relay.localdomain", "origin_realm": REALM,
                               "listen": [f"127.0.0.1:{self.port}"],
                               "peers": [{"name": RESPONDER, "port": responder_port, "mode": "connect"}]},
                  "hss": {"enabled": False}, "database": {"url": f"sqlite:///{directory / 'unused.sqlite'}"},
                  "api": {"enabled": False, "listen": f"127.0.0.1:{free_port()}"},
                  "metrics": {"enabled": args.metrics}, "logging": {"level": "WARNING"}, "dra": dra}
        (directory / "sigcore.yaml").write_text(yaml.safe_dump(config))
        prefix = ["-m", "cProfile", "-o", args.profile] if args.profile else []
        self.proc = subprocess.Popen([*pin_argv(cpus), sys.executable, *prefix, "-m", "sigcore.cli", "run",
                                      "--config", str(directory / "sigcore.yaml")])
        self.pid = self.proc.pid
        wait_listening(self.port)
        time.sleep(1.0)  # the connection to the responder (mode: connect) opens right after start

    def sample(self, directory: str, seconds: float) -> None:
        if self.proc is None:
            return
        Path(directory).mkdir(parents=True, exist_ok=True)
        spy = Path(sys.executable).with_name("py-spy")
        self.spy = subprocess.Popen([str(spy), "record", "--pid", str(self.pid), "--duration", str(int(seconds)),
                                     "--rate", "250", "--format", "raw", "--nonblocking", "--output",
                                     str(Path(directory) / f"{self.kind}.txt")], stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.spy is not None:
            self.spy.wait(60)
        if self.fd is not None:
            self.fd.stop()
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


_runs = itertools.count()


def load(port: int, args: argparse.Namespace, cpus: set[int] | None, rate: float | None,
         seconds: float | None = None) -> LoadReport:
    """One load run; each run's clients have Origin-Hosts of their own (run<N>-<conn>.localdomain)."""
    spec = LoadSpec(port=port, connections=args.connections, window=args.window, rate=rate,
                    duration=seconds or args.seconds, users=10000, processes=2, target=Target(REALM, REALM),
                    cpus=cpus, origin_prefix=f"run{next(_runs)}-")
    return run_load(spec)


def added_p50(relay: Relay, responder_port: int, args: argparse.Namespace, cpus: set[int] | None,
              rate: float) -> tuple[list[float], list[float], LoadReport, LoadReport]:
    """The relay's p50 minus the direct p50 at ``rate`` (µs), ``--repeat`` times, each relay run followed by
    its direct run: one run's figure moves by ±100 µs with the shared machine, the median much less. Also
    the relay's CPU per pair in each of its runs (µs): paced, it is more than at full load (smaller batches)."""
    added, cpu = [], []
    for _ in range(args.repeat):
        cpu0 = cpu_seconds(relay.pid)
        through = load(relay.port, args, cpus, rate)
        cpu.append(round((cpu_seconds(relay.pid) - cpu0) / max(1, through.answered) * 1e6, 1))
        direct = load(responder_port, args, cpus, rate)
        added.append(round((through.p50_ms - direct.p50_ms) * 1000, 1))
    return added, cpu, through, direct


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--relays", nargs="+", choices=RELAYS, default=list(RELAYS))
    ap.add_argument("--no-half", action="store_true", help="skip the paced half-rate latency runs")
    ap.add_argument("--low-rate", type=float, default=1000.0,
                    help="also the added p50 at this fixed paced rate (0: skip), where a shared machine's run "
                         "queues matter least")
    ap.add_argument("--repeat", type=int, default=3,
                    help="paced relay/direct run pairs per latency figure; the median is reported")
    ap.add_argument("--metrics", action="store_true", help="metrics.enabled on the sigcore relay")
    ap.add_argument("--py-spy", default=None, metavar="DIR", help="sample the sigcore relay at full load")
    ap.add_argument("--profile", default=None, help="run the sigcore relay under cProfile, stats to this file")
    ap.add_argument("--json", default=None, help="write the results as JSON here")
    ap.add_argument("--no-pin", dest="pin", action="store_false")
    args = ap.parse_args()

    relay_cpus, client_cpus = pinned_cpus(args.pin)
    work = Path(tempfile.mkdtemp(prefix="sigcore-bench-dra-"))
    responder_port = free_port()
    responder = subprocess.Popen([*pin_argv(client_cpus), sys.executable, "-m", "sigcore.loadgen.responder",
                                  "--port", str(responder_port), "--origin-host", RESPONDER],
                                 stdout=subprocess.DEVNULL)
    results: dict[str, dict[str, Any]] = {}  # figures, and each figure's runs (lists)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; relay on CPU {sorted(relay_cpus or [])}, "
          f"clients and responder on {sorted(client_cpus or [])}; {args.connections} connections x "
          f"{args.window} in flight, AIR")
    print(f"{'relay':16} {'rate/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'CPU/req':>8} {'per CPU-s':>9} {'half/s':>7} "
          f"{'p50 ms':>7} {'added p50':>9} {'CPU/req':>8} {f'@{args.low_rate:.0f}/s':>9} {'CPU/req':>8} "
          f"{'errors':>6}")
    try:
        wait_listening(responder_port)
        for kind in args.relays:
            relay = Relay(kind, work, responder_port, relay_cpus, args)
            try:
                load(relay.port, args, client_cpus, None, 1.0)  # warm-up
                if args.py_spy:
                    relay.sample(args.py_spy, args.seconds)
                cpu0 = cpu_seconds(relay.pid) if relay.pid else 0.0
                full = load(relay.port, args, client_cpus, None)
                cpu = (cpu_seconds(relay.pid) - cpu0) / max(1, full.answered) if relay.pid else float("nan")
                row: dict[str, Any] = {"rate": full.rate, "p50_ms": full.p50_ms, "p99_ms": full.p99_ms,
                                       "cpu_us": cpu * 1e6, "errors": full.sent - full.results.get("2001", 0)}
                if not args.no_half:
                    added, cpu_us, half, direct = added_p50(relay, responder_port, args, client_cpus, full.rate / 2)
                    row |= {"half_rate": half.rate, "half_p50_ms": half.p50_ms, "direct_p50_ms": direct.p50_ms,
                            "added_p50_us": statistics.median(added), "added_p50_us_runs": added,
                            "half_cpu_us": statistics.median(cpu_us), "half_cpu_us_runs": cpu_us}
                if args.low_rate:
                    added, cpu_us, _, _ = added_p50(relay, responder_port, args, client_cpus, args.low_rate)
                    row |= {"added_p50_low_us": statistics.median(added), "added_p50_low_us_runs": added,
                            "low_cpu_us": statistics.median(cpu_us), "low_cpu_us_runs": cpu_us}
            finally:
                relay.stop()
            results[kind] = row
            print(f"{kind:16} {row['rate']:8.0f} {row['p50_ms']:7.2f} {row['p99_ms']:7.2f} {row['cpu_us']:6.0f}us "
                  f"{1e6 / row['cpu_us']:9.0f} {row.get('half_rate', 0):7.0f} "
                  f"{row.get('half_p50_ms', float('nan')):7.2f} "
                  f"{row.get('added_p50_us', float('nan')):7.0f}us {row.get('half_cpu_us', float('nan')):6.0f}us "
                  f"{row.get('added_p50_low_us', float('nan')):7.0f}us {row.get('low_cpu_us', float('nan')):6.0f}us "
                  f"{row['errors']:6.0f}")
    finally:
        responder.terminate()
        responder.wait(10)
    if "sigcore" in results and "sigcore+pyform" in results:
        print(f"pyform transform keeps {100 * results['sigcore+pyform']['rate'] / results['sigcore']['rate']:.0f} % "
              f"of the rate")
    if "sigcore" in results and "freediameterd" in results:
        print(f"sigcore / freeDiameterd rate: {results['sigcore']['rate'] / results['freediameterd']['rate']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    if args.py_spy:
        from s6a import summarise_py_spy

        for path in sorted(Path(args.py_spy).glob("sigcore*.txt")):
            summarise_py_spy(path)


if __name__ == "__main__":
    main()
