"""sigcore nodes for transport tests: a server, optionally the S6a HSS on a SQLite store, and a client.

The TLS tests send CCRs answered 2001 by ``answer_ccr`` (the transports carry any application alike); the
SCTP test makes the server the real S6a HSS (``hss_on``) and sends AIRs built by ``s6a_air``, whose
answers ``eutran_vector_ok`` checks against the USIM model.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sigcore.config import parse_config
from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.aio import Node, NodeSettings, RequestContext
from sigcore.diameter.aio.node import PeerSettings
from sigcore.diameter.answers import Identity, answer, request, result_of
from sigcore.diameter.capabilities import LocalCapabilities, make_cer
from sigcore.diameter.constants import AppId, Cmd
from sigcore.diameter.message import Message
from sigcore.diameter.peer import PeerPolicy
from sigcore.hss.s6a.install import Hss, build_hss
from support.s6a import HOME_PLMN, IMSI, OPC, K, new_kek, provision, sqlite_url
from support.usim_model import Accepted, UsimModel

SERVER = "hss.localdomain"
CLIENT = "mme.localdomain"
REALM = "localdomain"
S6A, S6A_VENDOR, AIR = 16777251, 10415, 318
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


def cer_bytes(inband: list[int] | None = None) -> bytes:
    """The client's CER (Credit-Control, ``inband`` as its Inband-Security-Ids), encoded, for a raw socket."""
    caps = LocalCapabilities(Identity(CLIENT, REALM), auth_apps={int(AppId.CREDIT_CONTROL): 0},
                             inband_security=inband if inband is not None else [])
    msg = make_cer(caps)
    msg.hop_by_hop = msg.end_to_end = 1
    return msg.encode()


def s6a_air(imsi: str = IMSI) -> Message:
    """An S6a AIR (TS 29.272 §7.2.5) asking for one E-UTRAN vector, as an MME sends it."""
    return request(AIR, S6A, D.build_many([
        ("Session-Id", f"{CLIENT};1;{next(_sessions)}"),
        ("Vendor-Specific-Application-Id", [("Vendor-Id", S6A_VENDOR), ("Auth-Application-Id", S6A)]),
        ("Auth-Session-State", 1),
        ("Origin-Host", CLIENT),
        ("Origin-Realm", REALM),
        ("Destination-Realm", REALM),
        ("User-Name", imsi),
        ("Requested-EUTRAN-Authentication-Info", [("Number-Of-Requested-Vectors", 1),
                                                  ("Immediate-Response-Preferred", 0)]),
        ("Visited-PLMN-Id", HOME_PLMN),
    ]))


def eutran_vector_ok(aia: Message) -> bool:
    """Result-Code 2001 and an E-UTRAN vector the subscriber's USIM accepts (MAC-A verified, AMF separation
    bit set), with RES = XRES and the same KASME. A fresh card per answer: concurrent AIRs may be answered
    in any SQN order, which is not what a transport test is about."""
    if result_of(aia) != 2001:
        return False
    vector = aia["Authentication-Info"]["E-UTRAN-Vector"]
    outcome = UsimModel(K, OPC).authenticate_eutran(vector["RAND"], vector["AUTN"], HOME_PLMN)
    return isinstance(outcome, Accepted) and (outcome.res, outcome.kasme) == (vector["XRES"], vector["KASME"])


def hss_on(node: Node, tmp: Path) -> Hss:
    """Make ``node`` the S6a HSS on a fresh SQLite store holding one subscriber (``IMSI``); call before
    ``node.start()``, then ``await hss.start()``."""
    return build_hss(node, provision(sqlite_url(tmp), new_kek()), parse_config({}))


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
    node.advertise(S6A, S6A_VENDOR)
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
