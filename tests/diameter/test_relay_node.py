"""The relay through the asyncio adapter, over TCP: a client → a `relay=True` node → two sigcore nodes.
A silent backend is failed over after ``request_timeout`` (the adapter's relay timer), a stopped one on
its lost connection; every request is answered exactly once, with its own hop-by-hop id."""

from __future__ import annotations

import asyncio
from collections import Counter

from rawpeer import RawPeer, ccr, ccr_avps

from interop.ports import free_tcp_port
from interop.sigcore_nodes import cc_server, wait_open
from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.aio import Node, NodeSettings, RequestContext
from sigcore.diameter.aio.node import PeerSettings
from sigcore.diameter.answers import Identity, answer
from sigcore.diameter.capabilities import make_dpa
from sigcore.diameter.constants import AppId
from sigcore.diameter.message import Message
from sigcore.diameter.peer import PeerPolicy

TIMEOUT = 0.3


async def test_failover_on_silence_and_on_a_lost_peer_answers_each_request_once() -> None:
    quiet_port, good_port, relay_port = free_tcp_port(), free_tcp_port(), free_tcp_port()
    good_calls: list[Message] = []
    heard: list[int] = []
    quiet = cc_server("quiet.localdomain", quiet_port, [])

    async def never(req: Message, ctx: RequestContext) -> Message:
        heard.append(req.hop_by_hop)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    quiet.register(4, 272, never)
    good = cc_server("good.localdomain", good_port, good_calls)
    relay = Node(NodeSettings(Identity("dra.localdomain", "localdomain"), listen=[("127.0.0.1", relay_port)],
                              peers=[PeerSettings("quiet.localdomain", "127.0.0.1", quiet_port, "connect"),
                                     PeerSettings("good.localdomain", "127.0.0.1", good_port, "connect")],
                              policy=PeerPolicy(tc=0.5, jitter=0.2), request_timeout=TIMEOUT, relay=True))
    scores_seen: list[list[str]] = []

    def quiet_first(transit: object, scores: dict[object, int]) -> None:
        for peer in scores:
            scores[peer] += 5 if peer.name == "quiet.localdomain" else 0  # type: ignore[attr-defined]
        scores_seen.append(sorted(p.name for p, s in scores.items() if s > 0))  # type: ignore[attr-defined]

    relay.routing.add_out_routing(quiet_first)
    for node in (quiet, good, relay):
        await node.start()
    client = await RawPeer.connect(relay_port)
    try:
        await wait_open(relay, "quiet.localdomain")
        await wait_open(relay, "good.localdomain")
        cea = await client.handshake(apps={int(AppId.RELAY): 0})
        assert cea["Result-Code"] == 2001
        for n in range(1, 6):
            await client.send(ccr(hbh=n, e2e=100 + n, avps=ccr_avps(CC_Request_Number=n)).encode())
        answers = [await client.read(timeout=5) for _ in range(5)]
        assert sorted(a.hop_by_hop for a in answers) == [1, 2, 3, 4, 5]
        assert all(a["Result-Code"] == 2001 and a["Origin-Host"] == "good.localdomain" for a in answers)
        assert len(heard) == 5 and len(good_calls) == 5  # each tried on quiet first, then good
        assert all(c.is_retransmit for c in good_calls)  # re-sent with the T-flag
        assert all(c["Route-Record"] == "client.localdomain" for c in good_calls)

        await good.stop(wait=0.5)  # now only the silent one is left: 3002 after its timeout
        await asyncio.sleep(0.2)
        await client.send(ccr(hbh=9, e2e=109, avps=ccr_avps(CC_Request_Number=9)).encode())
        last = await client.read(timeout=5)
        assert last.hop_by_hop == 9 and last["Result-Code"] == 3002 and last.is_error
        await asyncio.sleep(TIMEOUT * 2)
        leftovers = []
        while True:
            try:
                leftovers.append(await client.read(timeout=0.2))
            except TimeoutError:
                break
        assert not [m for m in leftovers if m.code == 272], "a request was answered twice"
        assert Counter(a.hop_by_hop for a in [*answers, last]) == Counter({1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 9: 1})
        assert relay.core.relays_in_flight == 0
    finally:
        await client.close()
        for node in (relay, quiet, good):
            await node.stop(wait=0.2)


async def _slow_upstream_behind_a_relay() -> tuple[Node, Node, RawPeer]:
    """A client → a DRA → an HSS whose answers take 0.3 s; the client's CER done."""
    upstream_port, relay_port = free_tcp_port(), free_tcp_port()
    upstream = cc_server("hss.localdomain", upstream_port, [])

    async def slow(req: Message, ctx: RequestContext) -> Message:
        await asyncio.sleep(0.3)
        return answer(req, ctx.node.identity, 2001, [D.build("Auth-Application-Id", 4)])

    upstream.register(4, 272, slow)
    relay = Node(NodeSettings(Identity("dra.localdomain", "localdomain"), listen=[("127.0.0.1", relay_port)],
                              peers=[PeerSettings("hss.localdomain", "127.0.0.1", upstream_port, "connect")],
                              policy=PeerPolicy(tc=0.5, jitter=0.2), request_timeout=5.0, relay=True))
    await upstream.start()
    await relay.start()
    client = await RawPeer.connect(relay_port)
    await wait_open(relay, "hss.localdomain")
    assert (await client.handshake(apps={int(AppId.RELAY): 0}))["Result-Code"] == 2001
    return upstream, relay, client


async def _answers_while(client: RawPeer, count: int, dpr: bool = False) -> list[Message]:
    """Read ``count`` answers (and, with ``dpr``, a DPR, answered: the connection kept for what follows, as
    freeDiameter's CLOSING_GRACE does)."""
    answers: list[Message] = []
    while len(answers) < count or dpr:
        msg = await client.read(timeout=5)
        if msg.code == 282 and msg.is_request:
            await client.send(make_dpa(msg, Identity("client.localdomain", "localdomain")).encode())
            dpr = False
        else:
            answers.append(msg)
    return answers


async def test_a_relay_stopped_with_requests_in_flight_answers_each_from_upstream_then_closes() -> None:
    """Stopping the DRA (SIGTERM) must not turn the requests it is relaying into 3002: it finishes them, then
    tells the client to go (DPR), and the upstream gets its DPR only once the client has gone."""
    upstream, relay, client = await _slow_upstream_behind_a_relay()
    try:
        for n in range(1, 11):
            await client.send(ccr(hbh=n, e2e=100 + n, avps=ccr_avps(CC_Request_Number=n)).encode())
        await asyncio.sleep(0.1)  # all ten relayed, none answered yet
        stopping = asyncio.create_task(relay.stop())
        answers = await _answers_while(client, 10, dpr=True)
        assert sorted(a.hop_by_hop for a in answers) == list(range(1, 11))
        assert [a["Result-Code"] for a in answers] == [2001] * 10
        await asyncio.wait_for(stopping, 10)
        assert await client.closed()
    finally:
        await client.close()
        await relay.stop(wait=0.2)
        await upstream.stop(wait=0.2)


async def test_an_upstream_stopped_with_requests_in_flight_answers_them_through_the_relay() -> None:
    """The other side: the HSS stops (DPR to the DRA at once) while it still serves relayed requests. The DRA
    answers DPA and keeps the connection for their answers instead of failing them over (3002 here, with
    no other HSS); the HSS closes once its handlers have answered."""
    upstream, relay, client = await _slow_upstream_behind_a_relay()
    try:
        for n in range(1, 11):
            await client.send(ccr(hbh=n, e2e=100 + n, avps=ccr_avps(CC_Request_Number=n)).encode())
        await asyncio.sleep(0.1)
        stopping = asyncio.create_task(upstream.stop())
        answers = await _answers_while(client, 10)
        assert [a["Result-Code"] for a in answers] == [2001] * 10
        await asyncio.wait_for(stopping, 10)
        assert relay.peers["hss.localdomain"].state.value == "Closed"
    finally:
        await client.close()
        await relay.stop(wait=0.2)
        await upstream.stop(wait=0.2)
