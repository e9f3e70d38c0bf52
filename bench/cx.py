"""Cx throughput and latency of one `sigcore run` process over TCP: MAR/s and SAR/s, with S6a AIR/s of the
same run as the reference point.

Starts `sigcore run` (S6a and Cx/Sh installed, one process, one event loop) on a fresh SQLite database (or
the PostgreSQL URL given) with USERS subscribers, each also an IMS user (IMPI + sip: and tel: IMPUs, AKA
credentials), then, ROUNDS times and interleaved so that each kind sees the same machine load:

* MAR: Digest-AKAv1-MD5, one vector (joined identity read, atomic SQN reservation shared with S6a, Milenage);
* SAR: RE_REGISTRATION with User-Data (the IMSSubscription XML), on users registered in the warm-up;
* AIR: S6a, one E-UTRAN vector (the same AUC and SQN reservation): what the machine gives a tuned path.

Each is CLIENTS client processes with WINDOW requests in flight for SECONDS. The best round of each kind is
reported (the machine is shared: the best round is the one least disturbed), with p50/p99 latency, the
server's CPU per request and the load average. The clients send pre-encoded requests (only the hop-by-hop
and end-to-end ids are patched), so they cost little, but they share the CPU with the server.
`--profile FILE` runs the server under cProfile and prints its top functions: what limits the rate.

Before the rounds each kind runs WARMUP seconds at the full window: the SAR warm-up registers every user
(a first registration writes and asks Sh for subscribers), so the measured SARs are re-registrations.

Usage: .venv/bin/python bench/cx.py [--seconds 3] [--rounds 3] [--clients 2] [--window 64] [--users 1000]
                                    [--warmup 2] [--database-url postgresql://...] [--profile /tmp/cx.prof]
                                    [--no-pin]

As bench/s6a.py, the server runs on the last CPU and the clients on the others unless `--no-pin`.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import pstats
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from loadgen import client_process, cpu_seconds, drive, pct, pinned_cpus

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.message import Message
from sigcore.hss.ims.codes import CX_APP, VENDOR, AssignmentType, CxCommand
from sigcore.store import Store, create_key_file, migrate
from sigcore.store.ims import ImsStore
from sigcore.toolkit import plmn

S6A = 16777251
REALM = "localdomain"
SCSCF = "sip:scscf.localdomain:6060"
K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
HOME = plmn.encode("001", "01")


def imsi_of(n: int) -> str:
    return f"00101{n:010d}"


# --- requests ---------------------------------------------------------------------------------------
def _head(app: int, origin: str, n: int, user: str) -> list[tuple[str, Any]]:
    return [("Session-Id", f"{origin};bench;{n}"),
            ("Vendor-Specific-Application-Id", [("Vendor-Id", VENDOR), ("Auth-Application-Id", app)]),
            ("Auth-Session-State", 1), ("Origin-Host", origin), ("Origin-Realm", REALM),
            ("Destination-Realm", REALM), ("User-Name", user)]


def mar(origin: str, n: int) -> bytes:
    avps = [*_head(CX_APP, origin, n, f"u{n}@{REALM}"), ("Public-Identity", f"sip:u{n}@{REALM}"),
            ("SIP-Auth-Data-Item", [("SIP-Authentication-Scheme", "Digest-AKAv1-MD5")]),
            ("SIP-Number-Auth-Items", 1), ("Server-Name", SCSCF)]
    return Message(CxCommand.MAR, CX_APP, 0xC0, 0, 0, D.build_many(avps)).encode()


def sar(origin: str, n: int) -> bytes:
    avps = [*_head(CX_APP, origin, n, f"u{n}@{REALM}"), ("Public-Identity", f"sip:u{n}@{REALM}"),
            ("Server-Name", SCSCF), ("Server-Assignment-Type", AssignmentType.RE_REGISTRATION),
            ("User-Data-Already-Available", 0)]
    return Message(CxCommand.SAR, CX_APP, 0xC0, 0, 0, D.build_many(avps)).encode()


def air(origin: str, n: int) -> bytes:
    avps = [*_head(S6A, origin, n, imsi_of(n)),
            ("Requested-EUTRAN-Authentication-Info", [("Number-Of-Requested-Vectors", 1),
                                                      ("Immediate-Response-Preferred", 0)]),
            ("Visited-PLMN-Id", HOME)]
    return Message(318, S6A, 0xC0, 0, 0, D.build_many(avps)).encode()


KINDS: dict[str, Callable[[str, int], bytes]] = {"mar": mar, "sar": sar, "air": air}


def cer(origin: str) -> bytes:
    avps: list[tuple[str, Any]] = [("Origin-Host", origin), ("Origin-Realm", REALM),
                                   ("Host-IP-Address", "127.0.0.1"), ("Vendor-Id", 0), ("Product-Name", "bench"),
                                   ("Supported-Vendor-Id", VENDOR)]
    avps += [("Vendor-Specific-Application-Id", [("Vendor-Id", VENDOR), ("Auth-Application-Id", app)])
             for app in (CX_APP, S6A)]
    return Message(257, 0, 0x80, 1, 1, D.build_many(avps)).encode()


# --- one client process -----------------------------------------------------------------------------
async def _client(port: int, kind: str, origin: str, first: int, count: int, window: int,
                  seconds: float) -> tuple[list[float], int]:
    templates = [bytearray(KINDS[kind](origin, first + i)) for i in range(count)]
    return await drive(port, cer(origin), templates, window, seconds)


def load(port: int, kind: str, clients: int, window: int, seconds: float, users: int,
         cpus: set[int] | None = None) -> tuple[float, list[float], int]:
    """``clients`` processes on disjoint user ranges (on ``cpus``); returns answers/s, sorted latencies,
    non-2001 answers."""
    out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    share = users // clients
    procs = [mp.Process(target=client_process,
                        args=(_client, (port, kind, f"bench{c}.{REALM}", c * share, share, window, seconds), out, cpus))
             for c in range(clients)]
    for p in procs:
        p.start()
    results = [out.get(timeout=seconds + 90) for _ in procs]
    for p in procs:
        p.join()
    latencies = sorted(x for r in results for x in r[0])
    return len(latencies) / seconds, latencies, sum(r[1] for r in results)


# --- the server -------------------------------------------------------------------------------------
def provision(url: str, kek: bytes, users: int) -> None:
    migrate(url)
    with Store(url, kek) as store:
        ims = ImsStore(store)
        for n in range(users):
            store.add_subscriber(imsi_of(n), ki=K, opc=OPC, msisdn=f"1555{n:07d}")
            ims.add_user(f"u{n}@{REALM}", [f"sip:u{n}@{REALM}", f"tel:+1555{n:07d}"], imsi=imsi_of(n), scscf=SCSCF)


def start_server(work: Path, url: str, profile: str | None,
                 cpus: set[int] | None = None) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = {"diameter": {"origin_host": f"hss.{REALM}", "origin_realm": REALM, "listen": [f"127.0.0.1:{port}"]},
              "database": {"url": url, "key_file": str(work / "kek.hex")},
              "api": {"enabled": False}, "metrics": {"enabled": False}, "logging": {"level": "WARNING"}}
    (work / "sigcore.yaml").write_text(yaml.safe_dump(config))
    prefix = [sys.executable] + (["-m", "cProfile", "-o", profile] if profile else [])
    server = subprocess.Popen([*prefix, "-m", "sigcore.cli", "run", "--config", str(work / "sigcore.yaml")],
                              preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return server, port
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise
            time.sleep(0.1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds of full load per kind before the rounds")
    ap.add_argument("--kinds", default="mar,sar,air")
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--profile", default=None, help="run the server under cProfile, write the stats here")
    ap.add_argument("--no-pin", dest="pin", action="store_false",
                    help="let the scheduler place the server and the clients (default: server on the last CPU, "
                         "clients on the others)")
    args = ap.parse_args()
    kinds = args.kinds.split(",")

    work = Path(tempfile.mkdtemp(prefix="sigcore-bench-cx-"))
    url = args.database_url or f"sqlite:///{work / 'hss.sqlite'}"
    kek = create_key_file(work / "kek.hex")
    t0 = time.perf_counter()
    provision(url, kek, args.users)
    print(f"database: {url.split('@')[-1]}, {args.users} users ({time.perf_counter() - t0:.1f} s); "
          f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    server_cpus, client_cpus = pinned_cpus(args.pin)
    server, port = start_server(work, url, args.profile, server_cpus)
    best: dict[str, tuple[float, list[float], int, float]] = {}
    try:
        for kind in kinds:  # warm-up: caches, connections; the SAR warm-up registers every user
            load(port, kind, args.clients, args.window, args.warmup, args.users, client_cpus)
        for _ in range(args.rounds):
            for kind in kinds:
                cpu0 = cpu_seconds(server.pid)
                rate, latencies, errors = load(port, kind, args.clients, args.window, args.seconds, args.users,
                                               client_cpus)
                cpu = (cpu_seconds(server.pid) - cpu0) / max(1, len(latencies))
                if kind not in best or rate > best[kind][0]:
                    best[kind] = (rate, latencies, errors, cpu)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(60)
    print(f"best of {args.rounds} rounds of {args.seconds:.0f} s, {args.clients} clients x window {args.window}; "
          f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"{'':4} {'rate/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'server CPU/req':>15}")
    for kind in kinds:
        rate, latencies, errors, cpu = best[kind]
        print(f"{kind:4} {rate:8.0f} {pct(latencies, 50):8.2f} {pct(latencies, 99):8.2f} {errors:7d} "
              f"{cpu * 1e6:12.0f} us")
    if args.profile:
        print(f"\nserver profile ({args.profile}), top 30 by own time:")
        pstats.Stats(args.profile).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
