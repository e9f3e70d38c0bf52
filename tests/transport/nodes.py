"""sigcore nodes for transport tests: an HSS-side server answering a credit-control stand-in, a client.

The S6a AIR handler (src/sigcore/hss/s6a.py) does not exist yet, so requests are CCRs answered 2001 by
``answer_ccr``; the transports carry any application the same way.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.aio import Node, NodeSettings, RequestContext
from sigcore.diameter.aio.node import PeerSettings
from sigcore.diameter.answers import Identity, answer, request
from sigcore.diameter.constants import AppId, Cmd
from sigcore.diameter.message import Message
from sigcore.diameter.peer import PeerPolicy

SERVER = "hss.localdomain"
CLIENT = "mme.localdomain"
REALM = "localdomain"
_sessions = itertools.count(1)


def answer_ccr(req: Message, ctx: RequestContext) -> Message:
    return answer(req, ctx.node.identity, 2001, [
        D.build("Auth-Application-Id", int(AppId.CREDIT_CONTROL)),
        D.build("CC-Request-Type", req["CC-Request-Type"]),
        D.build("CC-Request-Number", req["CC-Request-Number"]),
    ])


def ccr(number: int = 0, session: str | None = None) -> Message:
    session = session or f"{CLIENT};1;{next(_sessions)}"
    return request(int(Cmd.CREDIT_CONTROL), int(AppId.CREDIT_CONTROL), [
        D.build("Session-Id", session),
        D.build("Origin-Host", CLIENT),
        D.build("Origin-Realm", REALM),
        D.build("Destination-Realm", REALM),
        D.build("Auth-Application-Id", int(AppId.CREDIT_CONTROL)),
        D.build("Service-Context-Id", "32251@3gpp.org"),
        D.build("CC-Request-Type", 1),
        D.build("CC-Request-Number", number),
    ])


def policy(tw: float = 30.0) -> PeerPolicy:
    return PeerPolicy(tw=tw, tc=1.0, cer_timeout=5.0, dpa_timeout=1.0, jitter=0.0)


def server_node(listeners: list[Any], tw: float = 30.0, identity: str = SERVER) -> Node:
    """A node with no plain TCP listener: only the transports under test."""
    node = Node(NodeSettings(Identity(identity, REALM), listen=[], listeners=listeners, policy=policy(tw)))
    node.register(int(AppId.CREDIT_CONTROL), int(Cmd.CREDIT_CONTROL), answer_ccr)
    return node


def client_node(peer: PeerSettings, dialer: Any, tw: float = 30.0, identity: str = CLIENT) -> Node:
    node = Node(NodeSettings(Identity(identity, REALM), listen=[], peers=[peer], dialer=dialer, policy=policy(tw)))
    node.advertise(int(AppId.CREDIT_CONTROL))
    return node


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``condition`` (a wait, not a timing assertion: the timeout only bounds a hung test)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def open_peer(node: Node, name: str) -> bool:
    peer = node.peers.get(name)
    return peer is not None and peer.is_open
