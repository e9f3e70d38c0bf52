"""The interop fixtures checked against real programs only (no sigcore): if these fail, interop test
failures elsewhere say nothing about sigcore."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from diameter.message.commands import AuthenticationInformationRequest, DeviceWatchdogRequest

from .freediameter import (
    ConnectPeer,
    FreeDiameterConfig,
    FreeDiameterFactory,
    RouteRule,
    connect_pair,
    message_line,
    parse_peer_states,
)
from .ports import LOOPBACK, free_tcp_port, free_tcp_ports, free_udp_port
from .pydiameter_peer import APP_S6A, PyDiameterPeer, quiet_python_diameter_logs
from .tshark import TsharkCapture, TsharkFactory, check_pcap, diameter_messages

CER, DWR, DPR, AIR = 257, 280, 282, 318


def test_free_ports_are_bindable() -> None:
    tcp, udp = free_tcp_port(), free_udp_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp_socket:
        tcp_socket.bind((LOOPBACK, tcp))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp_socket:
        udp_socket.bind((LOOPBACK, udp))
    assert len(set(free_tcp_ports(5))) == 5


def test_config_names_extensions_in_load_order_and_peers(tmp_path: Path) -> None:
    config = FreeDiameterConfig(
        identity="dra.localdomain",
        port=30868,
        connect_peers=[ConnectPeer("hss.localdomain", 30870)],
        allowed_peers=["*.localdomain"],
        routes=[RouteRule.default_route_to("hss.localdomain")],
    )
    text = config.render(tmp_path)
    assert text.index("dict_nasreq") < text.index("dict_dcca.fdx") < text.index("dict_dcca_3gpp")
    assert 'ConnectPeer = "hss.localdomain" { ConnectTo = "127.0.0.1"; Port = 30870; No_TLS; No_SCTP; };' in text
    assert (tmp_path / "rt_default.conf").read_text() == '* : "hss.localdomain" += 10 ;\n'
    assert (tmp_path / "acl_wl.conf").read_text() == "ALLOW_IPSEC *.localdomain\n"
    with pytest.raises(ValueError, match="TwTimer"):
        FreeDiameterConfig(identity="x.localdomain", tw_seconds=5)


def test_peer_states_follow_the_last_transition() -> None:
    log = (
        "07:12:48   DBG   'STATE_CLOSED'\t-> 'STATE_WAITCNXACK'\t'b.localdomain'\n"
        "07:12:48  NOTI   'STATE_WAITCEA'\t-> 'STATE_OPEN'\t'b.localdomain'\n"
        "07:12:48  NOTI   'STATE_CLOSED'\t-> 'STATE_OPEN'\t'c.localdomain'\n"
        "07:12:57  NOTI   'STATE_CLOSED'\t-> STATE_ZOMBIE (terminated)\t'c.localdomain'\n"
    )
    assert parse_peer_states(log) == {"b.localdomain": "STATE_OPEN", "c.localdomain": "STATE_ZOMBIE"}


@pytest.mark.interop
@pytest.mark.slow
def test_two_freediameterd_open_watchdog_and_disconnect(
    tshark_capture: TsharkFactory, freediameterd: FreeDiameterFactory
) -> None:
    b_port = free_tcp_port()
    capture = tshark_capture([b_port], name="fd-pair")
    b = freediameterd(FreeDiameterConfig(identity="b.localdomain", port=b_port, allowed_peers=["a.localdomain"]))
    a = freediameterd(FreeDiameterConfig(identity="a.localdomain", connect_peers=[ConnectPeer(b.identity, b_port)]))

    a.wait_for_state("b.localdomain", "STATE_OPEN")
    b.wait_for_state("a.localdomain", "STATE_OPEN")
    assert a.peer_states() == {"b.localdomain": "STATE_OPEN"}
    # Whichever side's Tw (6 s + jitter) fires first sends the DWR; the other's timer is reset by it.
    a.wait_for(message_line("b.localdomain", "Device-Watchdog-Answer"), timeout=20)

    a.stop()  # SIGINT: freeDiameter sends DPR (cause REBOOTING) to every open peer
    b.wait_for(r"Peer 'a\.localdomain' sent a DPR with cause: REBOOTING")
    assert b.wait_for_state("a.localdomain", "STATE_ZOMBIE")
    assert a.peer_states()["b.localdomain"] == "STATE_ZOMBIE"
    b.stop()
    capture.stop()

    assert check_pcap(capture.pcap_path, [b_port]) == []
    labels = [pdu.label for pdu in diameter_messages(capture.pcap_path, [b_port])]
    for code in (CER, DWR, DPR):
        assert f"{code}R" in labels and f"{code}A" in labels, labels
    assert labels[:2] == ["257R", "257A"] and labels[-2:] == ["282R", "282A"]


@pytest.mark.interop
def test_connect_pair_helper_reaches_open(freediameterd: FreeDiameterFactory) -> None:
    a, b = connect_pair(freediameterd)
    a.wait_for_state(b.identity)
    b.wait_for_state(a.identity)
    assert b.peer_states() == {a.identity: "STATE_OPEN"}


@pytest.mark.interop
def test_check_pcap_reports_a_malformed_diameter_message(tshark_capture: TsharkFactory) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind((LOOPBACK, 0))
        server.listen(1)
        port = server.getsockname()[1]
        capture = tshark_capture([port], name="malformed")
        dwr = DeviceWatchdogRequest()
        dwr.origin_host = b"a.localdomain"
        dwr.origin_realm = b"localdomain"
        frame = bytearray(dwr.as_bytes())
        frame[20 + 7] = 0xFF  # first AVP's length (low byte) now points past the end of the message
        with socket.create_connection((LOOPBACK, port)) as client:
            client.sendall(bytes(frame))
            accepted, _ = server.accept()
            accepted.recv(len(frame))
            accepted.close()
    capture.stop()

    problems = check_pcap(capture.pcap_path, [port])
    assert problems, "a corrupted AVP length must show up as malformed or as an expert warning"
    assert {problem.protocol for problem in problems} <= {"malformed", "diameter"}, problems


@pytest.mark.interop
@pytest.mark.parametrize("probe_port", [8805, 53, 40001])  # PFCP and DNS dissect the probe as malformed
def test_check_pcap_ignores_the_captures_own_probes(tmp_path: Path, probe_port: int) -> None:
    """The probes `TsharkCapture.start` sends go to a random UDP port; one that a Wireshark dissector owns
    made a clean capture fail (seen in CI: 9 'Malformed Packet' frames, all probes)."""
    if shutil.which("text2pcap") is None:
        pytest.skip("text2pcap (wireshark-common) missing")
    hexdump = tmp_path / "probe.txt"
    hexdump.write_text("0000 " + " ".join(f"{b:02x}" for b in TsharkCapture.PROBE_PAYLOAD) + "\n")
    pcap = tmp_path / "probe.pcap"
    subprocess.run(["text2pcap", "-q", "-u", f"40000,{probe_port}", str(hexdump), str(pcap)], check=True)
    assert check_pcap(pcap, [3868]) == []


@pytest.mark.interop
@pytest.mark.slow
def test_python_diameter_air_relayed_by_freediameterd(
    tshark_capture: TsharkFactory, freediameterd: FreeDiameterFactory
) -> None:
    """python-diameter MME -> freeDiameterd relay (rt_default) -> python-diameter HSS, and back."""
    quiet_python_diameter_logs()
    hss_port, dra_port = free_tcp_ports(2)
    capture = tshark_capture([hss_port, dra_port], name="relay")
    hss = PyDiameterPeer("hss.localdomain", "localdomain", APP_S6A, remote_host="dra.localdomain", listen_port=hss_port)
    mme = PyDiameterPeer(
        "mme.localdomain", "localdomain", APP_S6A, remote_host="dra.localdomain", connect_port=dra_port
    )
    try:
        hss.start()
        dra = freediameterd(
            FreeDiameterConfig(
                identity="dra.localdomain",
                port=dra_port,
                allowed_peers=["mme.localdomain"],
                connect_peers=[ConnectPeer("hss.localdomain", hss_port)],
                routes=[RouteRule.default_route_to("hss.localdomain")],
            )
        )
        dra.wait_for_state("hss.localdomain")
        mme.start()
        mme.wait_ready()

        air = mme.prepare(AuthenticationInformationRequest())
        air.user_name = "001010000000001"
        air.visited_plmn_id = bytes.fromhex("00f110")
        aia = mme.request(air)
        relayed_air = hss.next_request(timeout=5)
    finally:
        mme.stop()
        hss.stop()
    dra.stop()
    capture.stop()

    assert aia.result_code == 2001
    assert relayed_air.route_record == [b"mme.localdomain"]  # added by the relay
    assert relayed_air.header.end_to_end_identifier == air.header.end_to_end_identifier
    assert check_pcap(capture.pcap_path, [hss_port, dra_port]) == []
    airs = [pdu for pdu in diameter_messages(capture.pcap_path, [hss_port, dra_port]) if pdu.command_code == AIR]
    assert [(pdu.dst_port if pdu.is_request else pdu.src_port) for pdu in airs if pdu.is_request] == [
        dra_port,
        hss_port,
    ]
    assert [pdu.result_code for pdu in airs if not pdu.is_request] == [2001, 2001]
    assert all(pdu.application_id == APP_S6A for pdu in airs)
