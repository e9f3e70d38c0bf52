"""Diameter over multi-homed SCTP between two sigcore nodes, on a real kernel SCTP stack.

Runs inside ../shared/tools/sctp-vm (loopback with 127.0.0.2 and 127.0.0.3 added); elsewhere it skips.
Server endpoint: 127.0.0.1 + 127.0.0.2, the S6a HSS on a SQLite store with one provisioned subscriber;
client endpoint: 127.0.0.1 + 127.0.0.3, an MME sending S6a AIRs whose AIAs must carry Result-Code 2001 and
an E-UTRAN vector the subscriber's USIM (tests/support/usim_model.py) accepts.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from nodes import (
    AIR,
    CLIENT,
    SERVER,
    ccr,
    cer_bytes,
    client_node,
    eutran_vector_ok,
    hss_on,
    open_peer,
    s6a_air,
    server_node,
    wait_until,
)

from sigcore.diameter.aio import Node
from sigcore.diameter.aio.node import PeerSettings
from sigcore.diameter.constants import Cmd
from sigcore.diameter.transport import Dialer, SctpListener
from sigcore.diameter.transport.sctp import HIGH_WATER, SctpOptions, SctpTransport
from sigcore.diameter.transport.sockopt import DIAMETER_PPID, SOL_SCTP, is_supported

_supported, _why = is_supported()
pytestmark = [pytest.mark.sctp, pytest.mark.skipif(not _supported, reason=_why)]

SERVER_ADDRS = ["127.0.0.1", "127.0.0.2"]
CLIENT_ADDRS = ["127.0.0.1", "127.0.0.3"]
PRIMARY = "127.0.0.1"
# Fast path supervision so a dead path is noticed in about a second (kernel defaults take ~30 s).
FAST = SctpOptions(streams=4, rto_initial_ms=300, rto_min_ms=100, rto_max_ms=500, path_max_retrans=1,
                   heartbeat_ms=300)
CCRS = 8000  # their answers (~150 bytes each) overfill the kernel's buffers and the high-water mark


def drop_primary_path(port: int) -> list[list[str]]:
    """tc commands dropping every SCTP packet to the server's primary address (127.0.0.1:port) on lo.

    Only that destination dies: replies to the client still reach 127.0.0.1 (the kernel sources all
    loopback packets from it), exactly like a failed link towards one of the server's interfaces.
    """
    return [
        ["tc", "qdisc", "add", "dev", "lo", "root", "handle", "1:", "prio"],
        ["tc", "filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "prio", "1", "u32",
         "match", "ip", "dst", f"{PRIMARY}/32", "match", "ip", "protocol", "132", "0xff",
         "match", "ip", "dport", str(port), "0xffff", "action", "drop"],
    ]


@pytest.fixture
async def nodes(tmp_path: Path) -> AsyncIterator[tuple[Node, Node]]:
    server = server_node([SctpListener(SERVER_ADDRS, 0, FAST)], tw=2.0)
    hss = hss_on(server, tmp_path)
    await server.start()
    await hss.start()
    peer = PeerSettings(SERVER, PRIMARY, server.bound_ports[0], mode="connect", transport="sctp")
    client = client_node(peer, Dialer(sctp_local=CLIENT_ADDRS, sctp_options=FAST), tw=2.0)
    await client.start()
    yield server, client
    await client.stop(wait=2.0)
    await hss.stop()
    await server.stop(wait=2.0)
    hss.store.close()


@pytest.fixture
def primary_path_blocker() -> Iterator[list[list[str]]]:
    blocked: list[list[str]] = []
    yield blocked
    if blocked:
        subprocess.run(["tc", "qdisc", "del", "dev", "lo", "root"], check=False)


def _transport(node: Node, peer: str) -> SctpTransport:
    transport = node.peers[peer].conn.transport
    assert isinstance(transport, SctpTransport)
    return transport


async def _airs(client: Node, count: int) -> list[bool]:
    """``count`` AIRs in flight at once; for each AIA, whether it is 2001 with a vector the USIM accepts."""
    answers = await asyncio.gather(*(client.request(s6a_air(), timeout=20) for _ in range(count)))
    return [eutran_vector_ok(a) for a in answers]


async def test_multihomed_sctp_survives_primary_path_loss(nodes, primary_path_blocker) -> None:
    server, client = nodes
    await wait_until(lambda: open_peer(client, SERVER) and open_peer(server, CLIENT), 20, "CER/CEA over SCTP")
    c_side, s_side = _transport(client, SERVER), _transport(server, CLIENT)
    assert {a for a, _ in c_side.get_extra_info("sctp_peer_addresses")} == set(SERVER_ADDRS)
    assert {a for a, _ in s_side.get_extra_info("sctp_peer_addresses")} == set(CLIENT_ADDRS)
    assert c_side.get_extra_info("sctp_status").primary[0] == PRIMARY
    assert (c_side.plan.outbound, s_side.plan.outbound) == (4, 4)

    assert await _airs(client, 8) == [True] * 8
    await wait_until(lambda: any(r.command == Cmd.DEVICE_WATCHDOG and not r.is_request
                                 for r in (*c_side.received, *s_side.received)), 20, "DWR/DWA")

    for command in drop_primary_path(server.bound_ports[0]):
        subprocess.run(command, check=True)
        primary_path_blocker.append(command)
    assert await _airs(client, 8) == [True] * 8  # nothing lost while failing over
    await wait_until(lambda: any(n.kind == "PEER_ADDR_CHANGE" and n.state == "UNREACHABLE"
                                 and n.address is not None and n.address[0] == PRIMARY
                                 for n in c_side.notifications), 20, "peer address event")
    assert await _airs(client, 4) == [True] * 4
    assert open_peer(client, SERVER) and client.peers[SERVER].conn.transport is c_side  # same association

    # Every request was handled exactly once.
    airs = [r for r in s_side.received if r.command == AIR]
    assert len(airs) == 20 and len({r.hop_by_hop for r in airs}) == 20
    # PPID 46 on every message, both directions, as recvmsg's SCTP_RCVINFO reported it.
    assert {r.ppid for r in (*c_side.received, *s_side.received)} == {DIAMETER_PPID}
    # Base protocol on stream 0; application requests spread over streams 1..3.
    assert {r.stream for r in s_side.received if r.command != AIR} == {0}
    assert len({r.stream for r in airs}) > 1 and all(1 <= r.stream < 4 for r in airs)
    # Each answer came back on the stream its request used.
    sent = {r.hop_by_hop: r.stream for r in c_side.sent if r.is_request}
    answered = [r for r in c_side.received if r.command == AIR]
    assert len(answered) == 20 and all(r.stream == sent[r.hop_by_hop] for r in answered)


async def test_workers_share_a_multihomed_sctp_endpoint() -> None:
    """`sigcore run --workers N` sets `reuse_port`: each worker's SCTP listener binds the same addresses and
    port, and an association reaches one of them and opens its peer."""
    first = server_node([SctpListener(SERVER_ADDRS, 0, FAST)], tw=2.0)
    first.settings.reuse_port = True
    await first.start()
    port = first.bound_ports[0]
    second = server_node([SctpListener(SERVER_ADDRS, port, FAST)], tw=2.0)
    second.settings.reuse_port = True
    await second.start()
    peer = PeerSettings(SERVER, PRIMARY, port, mode="connect", transport="sctp")
    client = client_node(peer, Dialer(sctp_local=CLIENT_ADDRS, sctp_options=FAST), tw=2.0)
    try:
        assert second.bound_ports == [port]
        await client.start()
        await wait_until(lambda: open_peer(client, SERVER), what="the association to either worker")
        assert sum(open_peer(node, CLIENT) for node in (first, second)) == 1
    finally:
        await client.stop(wait=2.0)
        await second.stop(wait=2.0)
        await first.stop(wait=2.0)


async def test_a_peer_that_does_not_read_its_answers_cannot_grow_the_server() -> None:
    """A client association pipelines CCRs and reads nothing: once the kernel's buffers are full the
    server's transport queues at most about its high-water mark, the node stops reading the client, and
    when the client reads again every request is answered, once."""
    server = server_node([SctpListener(["127.0.0.1"], 0, FAST)], tw=30.0)
    await server.start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, SOL_SCTP)
    requests = [ccr(n) for n in range(CCRS)]
    for n, msg in enumerate(requests, start=2):
        msg.hop_by_hop = msg.end_to_end = n
    reading = threading.Event()
    answered: list[int] = []

    def send() -> None:
        sock.sendall(cer_bytes())
        for msg in requests:
            sock.send(msg.encode())  # one SCTP message each; blocks while the server reads nothing

    def read() -> None:
        reading.wait(120)
        while len(answered) < CCRS + 1:  # the CEA, then every CCA
            data = sock.recv(65536)
            if not data:
                return
            answered.append(int.from_bytes(data[12:16], "big"))

    try:
        await asyncio.to_thread(sock.connect, ("127.0.0.1", server.bound_ports[0]))
        threads = [threading.Thread(target=send, daemon=True), threading.Thread(target=read, daemon=True)]
        for thread in threads:
            thread.start()
        await wait_until(lambda: open_peer(server, CLIENT), what="the client's CER")
        conn = server.peers[CLIENT].conn
        await wait_until(lambda: conn.reading_paused, timeout=120, what="the server to stop reading the client")
        queued = conn.transport.get_write_buffer_size()
        assert queued <= HIGH_WATER + 65536, queued  # the mark, plus at most one read's answers
        reading.set()
        await wait_until(lambda: len(answered) == CCRS + 1, timeout=120, what="every answer")
        assert sorted(answered[1:]) == list(range(2, CCRS + 2))  # each request answered, none twice
        assert not conn.reading_paused
    finally:
        reading.set()
        sock.close()
        await server.stop(wait=1.0)
