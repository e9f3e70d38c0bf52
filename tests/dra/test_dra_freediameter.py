"""Black box: sigcore's DRA chained with freeDiameterd 1.2.1 (rt_default) in both orders, a python-diameter
MME in front and a sigcore HSS behind; tshark finds no malformed packet on any hop."""

from __future__ import annotations

from typing import Any

import pytest

from interop.freediameter import ConnectPeer, FreeDiameterConfig, RouteRule
from interop.ports import free_tcp_ports
from interop.tshark import check_pcap, diameter_messages

from .nodes import Nodes, air, avp_values, mme, origin_host, result_code

pytestmark = [pytest.mark.interop, pytest.mark.slow]
IMSI = "001010000000001"



def three_hops_judged(nodes: Nodes, fd: Any, capture: Any, ports: list[int]) -> None:
    """Stop everything (DPRs in the pcap), then: no malformed packet, and the AIR and its AIA on each of the
    three hops (MME -> first relay -> second relay -> HSS)."""
    nodes.stop_all()
    fd.stop()
    capture.stop()
    assert check_pcap(capture.pcap_path, ports) == []
    labels = [p.label for p in diameter_messages(capture.pcap_path, ports)]
    assert labels.count("318R") == 3 and labels.count("318A") == 3


def test_mme_freediameterd_sigcore_dra_hss(nodes: Nodes, freediameterd, tshark_capture) -> None:  # type: ignore[no-untyped-def]
    hss_port, dra_port, fd_port = free_tcp_ports(3)
    capture = tshark_capture([hss_port, dra_port, fd_port])
    nodes.hss("hss1", [IMSI], hss_port)
    nodes.dra("dra", {"hss1": hss_port, "fd.localdomain": 0}, {"routes": [{"peers": ["hss1.localdomain"]}]},
              port=dra_port)
    fd = freediameterd(FreeDiameterConfig(identity="fd.localdomain", port=fd_port,
                                          connect_peers=[ConnectPeer("dra.localdomain", dra_port)],
                                          allowed_peers=["mme.localdomain"],
                                          routes=[RouteRule.default_route_to("dra.localdomain")]))
    fd.wait_for_state("dra.localdomain")
    with mme(fd_port, remote="fd.localdomain") as client:
        client.wait_ready()
        answer = air(client, IMSI)
        assert result_code(answer) == 2001 and origin_host(answer) == "hss1.localdomain"
    three_hops_judged(nodes, fd, capture, [hss_port, dra_port, fd_port])


def test_mme_sigcore_dra_freediameterd_hss(nodes: Nodes, freediameterd, tshark_capture) -> None:  # type: ignore[no-untyped-def]
    hss_port, dra_port, fd_port = free_tcp_ports(3)
    capture = tshark_capture([hss_port, dra_port, fd_port])
    nodes.hss("hss1", [IMSI], hss_port)
    fd = freediameterd(FreeDiameterConfig(identity="fd.localdomain", port=fd_port,
                                          connect_peers=[ConnectPeer("hss1.localdomain", hss_port)],
                                          allowed_peers=["dra.localdomain"],
                                          routes=[RouteRule.default_route_to("hss1.localdomain")]))
    fd.wait_for_state("hss1.localdomain")
    nodes.dra("dra", {"fd.localdomain": fd_port}, {"routes": [{"peers": ["fd.localdomain"]}]}, port=dra_port)
    with mme(dra_port) as client:
        client.wait_ready()
        answer = air(client, IMSI)
        assert result_code(answer) == 2001 and origin_host(answer) == "hss1.localdomain"
        # freeDiameterd appends its Route-Record to the answers it relays; sigcore passes answers on as they are
        assert b"hss1.localdomain" in [v if isinstance(v, bytes) else v.encode() for v in avp_values(answer, 282)]
    three_hops_judged(nodes, fd, capture, [hss_port, dra_port, fd_port])
