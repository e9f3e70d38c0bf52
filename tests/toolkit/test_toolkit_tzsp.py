"""TZSP framing, and the in-process Diameter mirror as seen by tshark on the collector side."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from diameter.message.commands import (
    CapabilitiesExchangeRequest,
    DeviceWatchdogAnswer,
    DeviceWatchdogRequest,
)

from sigcore.toolkit import frames, tzsp

from .conftest import write_pcap

CLIENT = ("127.0.0.1", 40123)
SERVER = ("127.0.0.1", 3868)


def test_tzsp_header_is_version_1_received_ethernet_then_end() -> None:
    datagram = tzsp.encode(b"frame")
    assert datagram[:5] == bytes((1, 0, 0, 1, 1))
    assert tzsp.decode(datagram) == (tzsp.ENCAP_ETHERNET, b"frame")


def test_tzsp_decode_skips_padding_and_tags() -> None:
    header = tzsp.encode(b"")[:4]
    tagged = header + bytes((tzsp.TAG_PADDING, 0x28, 2, 0xAB, 0xCD, tzsp.TAG_END)) + b"inner"
    assert tzsp.decode(tagged) == (1, b"inner")
    with pytest.raises(ValueError):
        tzsp.decode(header + bytes((0x28, 2, 0, 0)))
    with pytest.raises(ValueError):
        tzsp.decode(bytes((2, 0, 0, 1, 1)))


@pytest.fixture
def collector() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    yield sock
    sock.close()


def _receive(sock: socket.socket, count: int) -> list[bytes]:
    return [sock.recv(65535) for _ in range(count)]


def _diameter_exchange() -> list[tuple[bytes, tuple[str, int], tuple[str, int]]]:
    cer = CapabilitiesExchangeRequest()
    cer.origin_host, cer.origin_realm = b"mme.mirror.test", b"mirror.test"
    cer.host_ip_address = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    cer.vendor_id, cer.product_name = 10415, "sigcore mirror test with a product name long enough to split"
    cer.header.hop_by_hop_identifier = 0x1001
    dwr = DeviceWatchdogRequest()
    dwr.origin_host, dwr.origin_realm = b"mme.mirror.test", b"mirror.test"
    dwr.header.hop_by_hop_identifier = 0x1002
    dwa = DeviceWatchdogAnswer()
    dwa.origin_host, dwa.origin_realm, dwa.result_code = b"hss.mirror.test", b"mirror.test", 2001
    dwa.header.hop_by_hop_identifier = 0x1002
    return [(cer.as_bytes(), CLIENT, SERVER), (dwr.as_bytes(), CLIENT, SERVER), (dwa.as_bytes(), SERVER, CLIENT)]


@pytest.mark.interop
def test_mirrored_diameter_is_dissected_by_tshark(tmp_path: Path, collector: socket.socket, tshark,
                                                  tshark_problems) -> None:
    port = collector.getsockname()[1]
    mirror = tzsp.TzspMirror("127.0.0.1", port, mss=64)  # small MSS: the CER spans several segments
    exchange = _diameter_exchange()
    for payload, src, dst in exchange:
        mirror.mirror(payload, src, dst)
    mirror.close()
    expected = 3 + sum(-(-len(payload) // 64) for payload, _, _ in exchange)
    assert (mirror.sent, mirror.dropped) == (expected, 0)

    datagrams = _receive(collector, expected)
    trace = write_pcap(tmp_path / "mirror.pcap",
                       (frames.udp_frame(("127.0.0.9", 50000), ("127.0.0.1", port), d) for d in datagrams))
    decode_as = [f"udp.port=={port},tzsp"]
    assert tshark_problems(trace, decode_as) == []
    rows = tshark(trace, ["tzsp.encap", "tcp.stream", "diameter.cmd.code", "diameter.flags.request",
                          "diameter.hopbyhopid", "diameter.Origin-Host"], decode_as, display_filter="diameter")
    assert {row["tzsp.encap"] for row in rows} == {"1"}
    assert {row["tcp.stream"] for row in rows} == {"0"}
    seen = [(row["diameter.cmd.code"], row["diameter.flags.request"], int(row["diameter.hopbyhopid"], 0),
             row["diameter.Origin-Host"]) for row in rows]
    assert seen == [("257", "1", 0x1001, "mme.mirror.test"), ("280", "1", 0x1002, "mme.mirror.test"),
                    ("280", "0", 0x1002, "hss.mirror.test")]


@pytest.mark.interop
def test_mirror_over_ipv6_endpoints(tmp_path: Path, collector: socket.socket, tshark, tshark_problems) -> None:
    port = collector.getsockname()[1]
    mirror = tzsp.TzspMirror("127.0.0.1", port)
    payload, _, _ = _diameter_exchange()[1]
    mirror.mirror(payload, ("::1", 40000), ("::1", 3868))
    datagrams = _receive(collector, 4)
    trace = write_pcap(tmp_path / "v6.pcap",
                       (frames.udp_frame(("127.0.0.9", 50000), ("127.0.0.1", port), d) for d in datagrams))
    decode_as = [f"udp.port=={port},tzsp"]
    assert tshark_problems(trace, decode_as) == []
    rows = tshark(trace, ["ipv6.src", "diameter.cmd.code"], decode_as, display_filter="diameter")
    assert rows == [{"ipv6.src": "::1", "diameter.cmd.code": "280"}]


def test_mirror_never_raises_into_the_caller(collector: socket.socket) -> None:
    mirror = tzsp.TzspMirror("127.0.0.1", collector.getsockname()[1])
    mirror.mirror(b"x", ("not-an-address", 1), SERVER)
    mirror.mirror(b"x", ("127.0.0.1", 1), ("::1", 2))
    assert mirror.dropped == 2 and mirror.sent == 0
    mirror.close()
    mirror.mirror(b"x", CLIENT, SERVER)  # closed socket: still silent
    assert mirror.dropped == 3
