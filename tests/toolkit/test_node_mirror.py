"""The node's in-process Diameter mirror: every message sent or received reaches a TZSP collector,
wrapped as TCP/IP, and the inner Diameter bytes are intact."""

from __future__ import annotations

import asyncio
import socket

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.aio import Node, NodeSettings
from sigcore.diameter.aio.node import PeerSettings
from sigcore.diameter.answers import Identity, answer
from sigcore.diameter.message import Message
from sigcore.toolkit import tzsp
from sigcore.toolkit.mirror import attach


def tcp_payload(frame: bytes) -> bytes:
    ip = frame[14:]
    assert ip[0] >> 4 == 4
    tcp = ip[(ip[0] & 0x0F) * 4:]
    return tcp[(tcp[12] >> 4) * 4:]


async def test_node_mirrors_both_directions_to_tzsp() -> None:
    collector = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    collector.bind(("127.0.0.1", 0))
    collector.setblocking(False)
    server = Node(NodeSettings(Identity("hss.localdomain", "localdomain"), listen=[("127.0.0.1", 0)]))
    server.register(4, 272, lambda req, ctx: answer(req, ctx.node.identity, 2001, [
        D.build("Auth-Application-Id", 4), D.build("CC-Request-Type", 1), D.build("CC-Request-Number", 0)]))
    mirror = tzsp.TzspMirror("127.0.0.1", collector.getsockname()[1])
    attach(server, mirror)
    await server.start()
    client = Node(NodeSettings(Identity("client.localdomain", "localdomain"), listen=[],
                               peers=[PeerSettings("hss.localdomain", "127.0.0.1", server.bound_ports[0], "connect")]))
    client.advertise(4)
    await client.start()
    try:
        for _ in range(100):
            if client.peers["hss.localdomain"].is_open:
                break
            await asyncio.sleep(0.05)
        req = Message(272, 4, 0xC0, 0, 0, D.build_many([
            ("Session-Id", "c;1"), ("Origin-Host", "client.localdomain"), ("Origin-Realm", "localdomain"),
            ("Destination-Realm", "localdomain"), ("Auth-Application-Id", 4), ("Service-Context-Id", "x@3gpp.org"),
            ("CC-Request-Type", 1), ("CC-Request-Number", 0)]))
        ans = await client.request(req)
        assert ans["Result-Code"] == 2001
        await asyncio.sleep(0.2)
        stream = b""
        loop = asyncio.get_running_loop()
        while True:
            try:
                datagram = await asyncio.wait_for(loop.sock_recv(collector, 65535), 0.5)
            except TimeoutError:
                break
            encapsulation, frame = tzsp.decode(datagram)
            assert encapsulation == tzsp.ENCAP_ETHERNET
            stream += tcp_payload(frame)
        seen = []
        off = 0
        while off < len(stream):
            length = int.from_bytes(stream[off + 1:off + 4], "big")
            msg = Message.decode(stream[off:off + length])
            seen.append((msg.code, msg.is_request))
            off += length

        assert {(257, True), (257, False), (272, True), (272, False)} <= set(seen)
    finally:
        await client.stop(wait=1)
        await server.stop(wait=1)
        mirror.close()
        collector.close()
