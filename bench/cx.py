"""Cx throughput over TCP in one process: MAR (Digest-AKAv1-MD5, one vector: keys + atomic SQN
reservation + Milenage) and SAR (RE_REGISTRATION: state write + IMSSubscription XML), each answered by
sigcore's CxService on a SQLite store, sent by a sigcore client node with a window of requests in flight.

Run: .venv/bin/python bench/cx.py [--seconds 5 --window 64 --users 200]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.aio import Node, NodeSettings
from sigcore.diameter.aio.node import PeerSettings
from sigcore.diameter.answers import Identity, result_of
from sigcore.diameter.message import Message
from sigcore.hss.cx import CxService
from sigcore.hss.ims.codes import CX_APP, VENDOR, AssignmentType, CxCommand
from sigcore.store import Store, migrate
from sigcore.store.ims import ImsStore

REALM = "localdomain"
K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")


def provision(store: Store, users: int) -> None:
    ims = ImsStore(store)
    for n in range(users):
        imsi = f"00101{n:010d}"
        store.add_subscriber(imsi, ki=K, opc=OPC)
        ims.add_user(f"u{n}@{REALM}", [f"sip:u{n}@{REALM}", f"tel:+1555{n:07d}"], imsi=imsi)


def request(code: int, n: int, avps: list[tuple[str, Any]]) -> Message:
    head: list[tuple[str, Any]] = [
        ("Session-Id", f"scscf.{REALM};{time.monotonic_ns()}"),
        ("Vendor-Specific-Application-Id", [("Vendor-Id", VENDOR), ("Auth-Application-Id", CX_APP)]),
        ("Auth-Session-State", 1), ("Origin-Host", f"scscf.{REALM}"), ("Origin-Realm", REALM),
        ("Destination-Realm", REALM), ("User-Name", f"u{n}@{REALM}"), ("Public-Identity", f"sip:u{n}@{REALM}")]
    return Message(code, CX_APP, 0xC0, 0, 0, D.build_many(head + avps))


def mar(n: int) -> Message:
    return request(CxCommand.MAR, n, [("SIP-Auth-Data-Item", [("SIP-Authentication-Scheme", "Digest-AKAv1-MD5")]),
                                      ("SIP-Number-Auth-Items", 1), ("Server-Name", "sip:scscf:6060")])


def sar(n: int) -> Message:
    return request(CxCommand.SAR, n, [("Server-Name", "sip:scscf:6060"),
                                      ("Server-Assignment-Type", AssignmentType.RE_REGISTRATION),
                                      ("User-Data-Already-Available", 0)])


async def rate(client: Node, make: Any, users: int, seconds: float, window: int) -> tuple[float, int]:
    done = failed = 0
    deadline = time.perf_counter() + seconds

    async def lane(lane_no: int) -> None:
        nonlocal done, failed
        n = lane_no
        while time.perf_counter() < deadline:
            answer = await client.request(make(n % users))
            if result_of(answer) == 2001:
                done += 1
            else:
                failed += 1
            n += window

    start = time.perf_counter()
    await asyncio.gather(*(lane(i) for i in range(window)))
    return done / (time.perf_counter() - start), failed


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        migrate(url)
        store = Store(url, secrets.token_bytes(32), pool_size=16)
        provision(store, args.users)
        hss = Node(NodeSettings(Identity(f"hss.{REALM}", REALM), listen=[("127.0.0.1", 0)]))
        CxService(store).install(hss)
        await hss.start()
        client = Node(NodeSettings(Identity(f"scscf.{REALM}", REALM), listen=[],
                                   peers=[PeerSettings(f"hss.{REALM}", "127.0.0.1", hss.bound_ports[0], "connect")]))
        client.advertise(CX_APP, VENDOR)
        await client.start()
        while not (p := client.peers.get(f"hss.{REALM}")) or not p.is_open:
            await asyncio.sleep(0.05)
        for name, make in (("MAR (AKA, 1 vector)", mar), ("SAR (RE_REGISTRATION, User-Data)", sar)):
            await rate(client, make, args.users, 0.5, args.window)  # warm-up
            per_second, failed = await rate(client, make, args.users, args.seconds, args.window)
            print(f"{name:36s} {per_second:8.0f}/s  ({failed} failed, window {args.window})")
        await client.stop()
        await hss.stop()
        store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--users", type=int, default=200)
    asyncio.run(main(parser.parse_args()))
