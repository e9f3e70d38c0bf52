"""sigcore and freeDiameterd 1.2.1 as real peers, both directions, with a relayed request, checked on
the wire by tshark."""

from __future__ import annotations

import asyncio

import pytest

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.message import Message

from .freediameter import ConnectPeer, FreeDiameterConfig, RouteRule, message_line
from .ports import free_tcp_port
from .sigcore_nodes import cc_server, ccr, client, wait_open
from .tshark import check_pcap, diameter_messages

pytestmark = [pytest.mark.interop, pytest.mark.slow]

SERVER = "hss.localdomain"
CLIENT = "client.localdomain"
FD = "fd.localdomain"


async def test_freediameter_both_directions_relay_and_clean_wire(freediameterd, tshark_capture) -> None:  # type: ignore[no-untyped-def]
    server_port = free_tcp_port()
    fd_config = FreeDiameterConfig(identity=FD, connect_peers=[ConnectPeer(SERVER, server_port)],
                                   allowed_peers=[CLIENT], routes=[RouteRule.default_route_to(SERVER)])
    capture = tshark_capture([server_port, fd_config.port])
    calls: list[Message] = []
    server = cc_server(SERVER, server_port, calls, tw=2.0)
    await server.start()  # freeDiameterd connects to us (it initiates towards hss.localdomain)
    fd = freediameterd(fd_config)
    cli = client(CLIENT, FD, fd.port, tw=2.0)  # and we connect to it
    await cli.start()
    try:
        await wait_open(server, FD)
        await wait_open(cli, FD)
        await asyncio.to_thread(fd.wait_for_state, SERVER)
        await asyncio.to_thread(fd.wait_for_state, CLIENT)

        answers = [await cli.request(ccr(CLIENT, n, destination_host=SERVER), peer=FD) for n in range(3)]
        assert [a["Result-Code"] for a in answers] == [2001] * 3
        assert [a["CC-Request-Number"] for a in answers] == [0, 1, 2]
        assert len(calls) == 3
        # RFC 6733 §6.1.9: the relay records the peer it received the request from.
        assert all(D.get_values(c.avps, "Route-Record") == [CLIENT] for c in calls)

        # Watchdogs: our Tw is 2 s, so both of our connections exchange DWR/DWA with freeDiameter.
        await asyncio.to_thread(fd.wait_for, message_line(SERVER, "Device-Watchdog-Answer"), 15)
        await asyncio.to_thread(fd.wait_for, message_line(CLIENT, "Device-Watchdog-Answer"), 15)
        assert fd.peer_states() == {SERVER: "STATE_OPEN", CLIENT: "STATE_OPEN"}
    finally:
        await cli.stop(wait=3.0)
        await server.stop(wait=3.0)
    # Both DPRs were answered: freeDiameter saw both connections close cleanly.
    await asyncio.to_thread(fd.wait_for, message_line(CLIENT, "Disconnect-Peer-Request"), 10)
    await asyncio.to_thread(fd.wait_for, message_line(SERVER, "Disconnect-Peer-Request"), 10)
    fd.stop()
    capture.stop()

    ports = [server_port, fd_config.port]
    assert check_pcap(capture.pcap_path, ports) == []
    labels = {m.label for m in diameter_messages(capture.pcap_path, ports)}
    for expected in ("257R", "257A", "280R", "280A", "282R", "282A", "272R", "272A"):
        assert expected in labels, f"{expected} missing from the capture: {sorted(labels)}"
