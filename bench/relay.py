"""The stack's relay path (RFC 6733 §6, `sigcore.diameter.core`) under load: S6a AIRs from bench/s6a.py's
clients → a sigcore node with ``relay=True`` (no dictionary work: bytes in, bytes out) → a null responder
that answers each request with a fixed AIA. In the same run, the same load straight to the null responder
(the floor of the clients and the responder).

Reports requests relayed per second and per CPU-second of the relay process (the second does not move with
the machine's load: it is what one core would do), and latency percentiles. The relay process is pinned to
one CPU, the clients and responder to the others (when there are two or more).

Run: .venv/bin/python bench/relay.py [--seconds 10] [--clients 4] [--window 32]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import s6a
from loadgen import cpu_seconds, pct, pinned_cpus

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.aio import Node, NodeSettings
from sigcore.diameter.aio.node import PeerSettings
from sigcore.diameter.answers import Identity, answer
from sigcore.diameter.capabilities import LocalCapabilities, make_cea
from sigcore.diameter.message import Message

HSS = "hss.localdomain"


def null_responder(port: int, cpus: set[int] | None) -> None:
    """Answers CER, DWR and every other request with a prebuilt answer (ids patched): no codec per request."""
    if cpus:
        os.sched_setaffinity(0, cpus)
    caps = LocalCapabilities(Identity(HSS, s6a.REALM), auth_apps={s6a.S6A: s6a.VENDOR})
    sample = Message.decode(s6a.air("x", 0, s6a.imsi_of(0)))
    aia = answer(sample, Identity(HSS, s6a.REALM), 2001, [D.build("Auth-Session-State", 1)]).encode()

    class Responder(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport
            self.buf = b""

        def data_received(self, data: bytes) -> None:
            buf = self.buf + data
            out = []
            while len(buf) >= 20:
                n = int.from_bytes(buf[1:4], "big")
                if len(buf) < n:
                    break
                frame, buf = buf[:n], buf[n:]
                code = int.from_bytes(frame[5:8], "big")
                if not frame[4] & 0x80:
                    continue
                if code in (257, 280):
                    msg = Message.decode(frame)
                    reply = make_cea(msg, caps, 2001) if code == 257 else answer(msg, caps.identity, 2001)
                    reply.hop_by_hop, reply.end_to_end = msg.hop_by_hop, msg.end_to_end
                    out.append(reply.encode())
                else:
                    out.append(aia[:12] + frame[12:20] + aia[20:])
            self.buf = buf
            if out:
                self.transport.write(b"".join(out))  # type: ignore[attr-defined]

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Responder, "127.0.0.1", port)
        await server.serve_forever()

    asyncio.run(main())


def relay_node(port: int, next_hop: int, cpus: set[int] | None) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)

    async def main() -> None:
        settings = NodeSettings(Identity("dra.localdomain", s6a.REALM), listen=[("127.0.0.1", port)],
                                peers=[PeerSettings(HSS, "127.0.0.1", next_hop, "connect")], relay=True)
        node = Node(settings)
        await node.start()
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, *gc.get_threshold()[1:])
        await asyncio.Event().wait()

    asyncio.run(main())


def wait_port(port: int) -> None:
    import socket

    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--no-pin", action="store_true")
    args = parser.parse_args()
    server_cpus, client_cpus = pinned_cpus(not args.no_pin)
    hss_port, dra_port = s6a.free_port(), s6a.free_port()
    responder = mp.Process(target=null_responder, args=(hss_port, client_cpus), daemon=True)
    responder.start()
    wait_port(hss_port)
    relay = mp.Process(target=relay_node, args=(dra_port, hss_port, server_cpus), daemon=True)
    relay.start()
    wait_port(dra_port)
    time.sleep(1.0)  # the relay's CER/CEA with the responder
    try:
        rate, lat, errors = s6a.load(hss_port, "air", args.clients, args.window, args.seconds / 2, 4000, None,
                                     client_cpus)
        print(f"straight to the null responder: {rate:8.0f}/s  p50 {pct(lat, 50):.2f} ms  p99 {pct(lat, 99):.2f} ms"
              f"  errors {errors}")
        assert relay.pid is not None
        cpu0 = cpu_seconds(relay.pid)
        t0 = time.perf_counter()
        rate, lat, errors = s6a.load(dra_port, "air", args.clients, args.window, args.seconds, 4000, None,
                                     client_cpus)
        wall = time.perf_counter() - t0
        cpu = cpu_seconds(relay.pid) - cpu0
        relayed = rate * args.seconds
        print(f"through the sigcore relay:      {rate:8.0f}/s  p50 {pct(lat, 50):.2f} ms  p99 {pct(lat, 99):.2f} ms"
              f"  errors {errors}")
        print(f"relay process: {cpu:.2f} CPU-s over {wall:.1f} s wall: {relayed / cpu:,.0f} request/answer pairs "
              f"per CPU-second")
    finally:
        relay.kill()
        responder.kill()


if __name__ == "__main__":
    main()
