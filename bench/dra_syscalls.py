"""Where a relay's CPU per pair goes as batches shrink: one relay of bench/dra.py (`sigcore` or `tcp-proxy`)
at full load and at paced rates, with its CPU per pair (from /proc) and its `sendto`/`recvfrom`/`epoll_wait`
calls per pair (``perf stat -p`` on the syscall tracepoints; needs root and `perf`).

At full load the reads and sends carry many messages each; at a paced rate fewer, and what a relay pays per
read, per send and per wake-up is spread over fewer pairs. Comparing sigcore with the byte pipe at the same
rates separates the relay's own work (its Python) from what the sockets and wake-ups cost on this machine
(docs/performance.md, "Fifth pass").

Usage: .venv/bin/python bench/dra_syscalls.py [--relay sigcore|tcp-proxy] [--rates 0 20000] [--seconds 4]
       (rate 0: full load, CONNECTIONS x WINDOW in flight)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from loadgen import cpu_seconds, pinned_cpus

import dra

EVENTS = ("syscalls:sys_enter_sendto", "syscalls:sys_enter_recvfrom", "syscalls:sys_enter_epoll_wait")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--relay", choices=("sigcore", "tcp-proxy"), default="sigcore")
    parser.add_argument("--rates", type=float, nargs="+", default=[0, 20000])
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--window", type=int, default=32)
    a = parser.parse_args()
    args = argparse.Namespace(connections=a.connections, window=a.window, seconds=a.seconds, metrics=False,
                              profile=None, repeat=1)
    relay_cpus, client_cpus = pinned_cpus(True)
    work = Path(tempfile.mkdtemp(prefix="sigcore-dra-syscalls-"))
    responder_port = dra.free_port()
    responder = subprocess.Popen([*dra.pin_argv(client_cpus), sys.executable, "-m", "sigcore.loadgen.responder",
                                  "--port", str(responder_port), "--origin-host", dra.RESPONDER],
                                 stdout=subprocess.DEVNULL)
    dra.wait_listening(responder_port)
    relay = dra.Relay(a.relay, work, responder_port, relay_cpus, args)
    print(f"{'relay':10} {'rate/s':>8} {'p50 µs':>8} {'CPU/pair':>9} " + " ".join(f"{e.rsplit('_', 1)[1]:>10}"
                                                                          for e in EVENTS) + "  (per pair)")
    try:
        dra.load(relay.port, args, client_cpus, None, 1.0)  # warm-up
        for rate in a.rates:
            out = work / f"stat-{int(rate)}.csv"
            window = a.seconds - 0.5  # perf counts inside the load's window
            perf = subprocess.Popen(["perf", "stat", "-x", ",", "-o", str(out), "-e", ",".join(EVENTS),
                                     "-p", str(relay.pid), "--", "sleep", str(window)])
            time.sleep(0.2)
            before = cpu_seconds(relay.pid)
            result = dra.load(relay.port, args, client_cpus, rate or None)
            cpu = (cpu_seconds(relay.pid) - before) / result.answered
            perf.wait()
            counts = {f[2]: float(f[0]) for f in (line.split(",") for line in out.read_text().splitlines())
                      if len(f) > 2 and f[0].replace(".", "").isdigit()}
            pairs = result.rate * window
            print(f"{a.relay:10} {result.rate:8.0f} {result.p50_ms * 1000:8.0f} {cpu * 1e6:7.1f}µs "
                  + " ".join(f"{counts.get(e, float('nan')) / pairs:10.2f}" for e in EVENTS))
    finally:
        relay.stop()
        responder.terminate()
        responder.wait()


if __name__ == "__main__":
    main()
