"""`sigcore capture`: tcpdump on loopback, packets of a test flow arrive as TZSP with the inner packet intact."""

from __future__ import annotations

import io
import ipaddress
import os
import shutil
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from sigcore.toolkit import capture, frames, pcap
from sigcore.toolkit.cli import register

from .conftest import write_pcap


def test_parse_destination() -> None:
    assert capture.parse_destination("10.0.0.1") == ("10.0.0.1", 37008)
    assert capture.parse_destination("10.0.0.1:5555") == ("10.0.0.1", 5555)
    assert capture.parse_destination("[::1]:5555") == ("::1", 5555)
    assert capture.parse_destination("[::1]") == ("::1", 37008)
    assert capture.parse_destination("::1") == ("::1", 37008)


@pytest.mark.parametrize("dst", ["host:abc", "host:99999", "host:0", "host:-1", "host:", "[::1", "[::1]5555",
                                 "", ":5555", "host:١٢", " ", " :5555", "collector one", "host\n:5555"])
def test_a_bad_collector_is_one_line_naming_dst(dst: str) -> None:
    root = typer.Typer()
    register(root)
    result = CliRunner().invoke(root, ["capture", "--dst", dst])  # refused before tcpdump is started
    assert result.exit_code == 2
    assert result.output.startswith("error: --dst: ") and len(result.output.splitlines()) == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)  # "host:abc" was a traceback


def test_a_packet_count_below_one_is_refused_at_the_option() -> None:
    root = typer.Typer()
    register(root)
    result = CliRunner().invoke(root, ["capture", "--dst", "127.0.0.1", "--count", "0"])
    assert result.exit_code == 2 and "--count" in result.output


def test_own_stream_is_excluded_from_the_filter() -> None:
    own = ("(udp and dst host 127.0.0.1 and dst port 37008) or (icmp and icmp[icmptype] == icmp-unreach and src "
           "host 127.0.0.1) or (icmp6 and ip6[40] == 1 and src host 127.0.0.1)")
    assert capture.exclusion_filter("port 3868", ("127.0.0.1", 37008)) == f"(port 3868) and not ({own})"
    assert capture.exclusion_filter(" ", ("::1", 9)).startswith("not ((udp and dst host ::1 and dst port 9) or ")


def test_linux_cooked_and_raw_ip_become_ethernet() -> None:
    loopback = ipaddress.ip_address("127.0.0.1")
    ip_packet = frames.ip(loopback, loopback, frames.PROTO_UDP, b"")
    sll = bytes(14) + frames.ETHERTYPE_IPV4.to_bytes(2, "big")
    sll2 = frames.ETHERTYPE_IPV4.to_bytes(2, "big") + bytes(18)
    for linktype, data in [(pcap.LINKTYPE_LINUX_SLL, sll + ip_packet), (pcap.LINKTYPE_LINUX_SLL2, sll2 + ip_packet),
                           (pcap.LINKTYPE_RAW, ip_packet), (pcap.LINKTYPE_ETHERNET, frames.ethernet(ip_packet, 0x800))]:
        frame = capture.to_ethernet(linktype, data)
        assert frame is not None and frame[12:14] == b"\x08\x00" and frame[14:] == ip_packet
    assert capture.to_ethernet(105, b"802.11") is None


def _udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
def sockets() -> Iterator[tuple[socket.socket, socket.socket, socket.socket]]:
    """(collector receiving TZSP, the flow's receiver, the flow's sender), all on 127.0.0.1."""
    opened = [_udp_socket(), _udp_socket(), _udp_socket()]
    yield opened[0], opened[1], opened[2]
    for sock in opened:
        sock.close()


@pytest.mark.interop
@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed (Debian package tcpdump)")
@pytest.mark.skipif(os.geteuid() != 0, reason="capturing on lo needs root (or CAP_NET_RAW on tcpdump)")
def test_capture_streams_a_test_flow_as_tzsp(tmp_path: Path, sockets, tshark) -> None:
    collector, flow_receiver, flow_sender = sockets
    tzsp_port, flow_port = collector.getsockname()[1], flow_receiver.getsockname()[1]
    wanted = 5
    app = typer.Typer()
    register(app)
    result: list[object] = []
    # The filter also matches our own TZSP stream: the capture must exclude it or loop forever.
    args = ["capture", "--dst", f"127.0.0.1:{tzsp_port}", "-i", "lo",
            "-f", f"udp and (port {flow_port} or port {tzsp_port})", "-c", str(wanted)]
    worker = threading.Thread(target=lambda: result.append(CliRunner().invoke(app, args)))
    worker.start()

    received: list[bytes] = []
    sent: set[bytes] = set()
    collector.settimeout(0.05)
    deadline = time.monotonic() + 30
    while len(received) < wanted and time.monotonic() < deadline:  # keep the flow going until tcpdump listens
        probe = f"probe-{len(sent)}".encode()
        flow_sender.sendto(probe, ("127.0.0.1", flow_port))
        sent.add(probe)
        try:
            while len(received) < wanted:
                received.append(collector.recv(65535))
        except TimeoutError:
            pass
    worker.join(timeout=30)
    assert len(received) == wanted, "no TZSP stream arrived from sigcore capture"
    outcome = result[0]
    assert outcome.exit_code == 0, outcome.output  # type: ignore[attr-defined]
    assert f"{wanted} packets sent" in outcome.output  # type: ignore[attr-defined]

    trace = write_pcap(tmp_path / "tzsp.pcap", (frames.udp_frame(("127.0.0.1", 1), ("127.0.0.1", tzsp_port), d)
                                                for d in received))
    rows = tshark(trace, ["tzsp.encap", "udp.dstport", "data.data"], [f"udp.port=={tzsp_port},tzsp"])
    assert len(rows) == wanted
    for row in rows:
        assert row["tzsp.encap"] == "1"
        assert row["udp.dstport"] == f"{tzsp_port},{flow_port}"  # outer TZSP, then the captured packet
        assert bytes.fromhex(row["data.data"]) in sent


@pytest.mark.interop
def test_capture_reports_a_bad_filter_in_words() -> None:
    if shutil.which("tcpdump") is None or os.geteuid() != 0:
        pytest.skip("needs tcpdump and root")
    with pytest.raises(capture.CaptureError, match=r"syntax error|expression"):
        capture.stream("lo", "udp port and and", ("127.0.0.1", 9), count=1)


def test_capture_reports_a_collector_name_that_does_not_resolve_in_words() -> None:
    with pytest.raises(capture.CaptureError) as refused:  # .invalid never resolves (RFC 6761)
        capture.stream("lo", "", ("collector.invalid", 37008), count=1)
    assert str(refused.value).startswith("cannot resolve the collector collector.invalid: ")
    assert "Errno" not in str(refused.value)


class _ReadSizes(io.BytesIO):
    """A stream that remembers the largest read asked of it (a pipe's reader allocates what is asked)."""

    largest = 0

    def read(self, size: int | None = -1) -> bytes:
        self.largest = max(self.largest, size or 0)
        return super().read(size)


def test_a_corrupt_record_length_is_refused_before_it_is_read() -> None:
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, pcap.LINKTYPE_ETHERNET)
    stream = _ReadSizes(header + struct.pack("<IIII", 0, 0, 0xFFFFFFF0, 0xFFFFFFF0) + b"x" * 64)
    with pytest.raises(ValueError, match="longer than the snap length 65535"):
        list(pcap.PcapReader(stream))
    assert stream.largest <= 24


@pytest.mark.interop
@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed (Debian package tcpdump)")
@pytest.mark.skipif(os.geteuid() != 0, reason="capturing on lo needs root (or CAP_NET_RAW on tcpdump)")
def test_a_collector_where_nothing_listens_does_not_feed_the_capture(sockets) -> None:
    """With nothing listening at the collector, each TZSP datagram drew an ICMP port-unreachable, which the
    capture took and resent, drawing another: one probe became tens of thousands a second."""
    closed = _udp_socket()
    collector = ("127.0.0.1", closed.getsockname()[1])
    closed.close()  # nothing listens there now
    _unused, flow_receiver, flow_sender = sockets
    flow = ("127.0.0.1", flow_receiver.getsockname()[1])
    seen: list[int] = []
    limit = 400
    # The probes and every ICMP message: what would loop. Not the whole of lo, where other programs' TCP
    # (a busy machine's loopback chatter) would be forwarded too and counted against the probes.
    flow_and_icmp = f"(udp and port {flow[1]}) or icmp or icmp6"
    worker = threading.Thread(target=lambda: capture.stream("lo", flow_and_icmp, collector, count=limit,
                                                            on_packet=lambda stats: seen.append(stats.packets)))
    worker.start()
    probes = 0
    deadline = time.monotonic() + 30
    while not seen and time.monotonic() < deadline:  # until tcpdump listens and the first probe is through
        flow_sender.sendto(b"probe", flow)
        probes += 1
        time.sleep(0.05)
    time.sleep(1.0)  # the loop, if any, runs now
    forwarded = seen[-1] if seen else 0
    while worker.is_alive() and time.monotonic() < deadline:  # end the capture: its packet count
        flow_sender.sendto(b"end", flow)
        time.sleep(0.001)
    worker.join(timeout=10)
    assert seen, "the capture never started"
    assert forwarded <= probes + 5, f"{forwarded} packets forwarded for {probes} probes"
