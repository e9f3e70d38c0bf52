"""Fixtures for node-level tests: a sigcore Node serving a credit-control stand-in on a random port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.admission import AdmissionLimits
from sigcore.diameter.aio import Node, NodeSettings, RequestContext
from sigcore.diameter.answers import Identity, answer
from sigcore.diameter.message import Message
from sigcore.diameter.peer import PeerPolicy


@dataclass
class Served:
    node: Node
    port: int
    calls: list[Message] = field(default_factory=list)


def cc_handler(calls: list[Message]):  # type: ignore[no-untyped-def]
    def handle(req: Message, ctx: RequestContext) -> Message:
        calls.append(req)
        return answer(req, ctx.node.identity, 2001, [
            D.build("Auth-Application-Id", 4),
            D.build("CC-Request-Type", req["CC-Request-Type"]),
            D.build("CC-Request-Number", req["CC-Request-Number"]),
        ])
    return handle


async def start_server(allow: list[str] | None = None, tw: float = 30.0, cer_timeout: float = 3.0,
                       limits: AdmissionLimits | None = None) -> Served:
    settings = NodeSettings(Identity("hss.localdomain", "localdomain"), listen=[("127.0.0.1", 0)],
                            policy=PeerPolicy(tw=tw, tc=1.0, cer_timeout=cer_timeout, dpa_timeout=1.0))
    if limits is not None:
        settings.limits = limits
    if allow is not None:
        settings.allow = allow
    node = Node(settings)
    served = Served(node, 0)
    node.register(4, 272, cc_handler(served.calls))
    await node.start()
    served.port = node.bound_ports[0]
    return served


@pytest.fixture
async def server() -> AsyncIterator[Served]:
    served = await start_server()
    yield served
    await served.node.stop(wait=0.5)
