"""Start sigcore Nodes in the test's event loop for interop tests (a server with a credit-control
stand-in application, and clients), and wait on their peer states."""

from __future__ import annotations

import asyncio
import time

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.aio import Node, NodeSettings, RequestContext
from sigcore.diameter.aio.node import PeerSettings
from sigcore.diameter.answers import Identity, answer
from sigcore.diameter.message import Message
from sigcore.diameter.peer import PeerPolicy

CC_APP = 4


def cc_server(identity: str, port: int, calls: list[Message], tw: float = 30.0) -> Node:
    node = Node(NodeSettings(Identity(identity, "localdomain"), listen=[("127.0.0.1", port)],
                             policy=PeerPolicy(tw=tw, jitter=0.2)))

    def handle(req: Message, ctx: RequestContext) -> Message:
        calls.append(req)
        return answer(req, ctx.node.identity, 2001, [
            D.build("Auth-Application-Id", CC_APP),
            D.build("CC-Request-Type", req["CC-Request-Type"]),
            D.build("CC-Request-Number", req["CC-Request-Number"]),
        ])

    node.register(CC_APP, 272, handle)
    return node


def client(identity: str, peer: str, port: int, tw: float = 30.0) -> Node:
    node = Node(NodeSettings(Identity(identity, "localdomain"), listen=[],
                             peers=[PeerSettings(peer, "127.0.0.1", port, "connect")],
                             policy=PeerPolicy(tw=tw, tc=1.0, jitter=0.2)))
    node.advertise(CC_APP)
    return node


def ccr(origin: str, number: int = 0, destination_host: str | None = None) -> Message:
    avps = [
        ("Session-Id", f"{origin};{time.time_ns()};{number}"),
        ("Origin-Host", origin),
        ("Origin-Realm", "localdomain"),
        ("Destination-Realm", "localdomain"),
        ("Destination-Host", destination_host),
        ("Auth-Application-Id", CC_APP),
        ("Service-Context-Id", "32251@3gpp.org"),
        ("CC-Request-Type", 1),
        ("CC-Request-Number", number),
    ]
    return Message(272, CC_APP, 0xC0, 0, 0, D.build_many(avps))


async def wait_open(node: Node, peer: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p = node.peers.get(peer.lower())
        if p is not None and p.is_open:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{node.identity.origin_host}: peer {peer} not open after {timeout}s")
