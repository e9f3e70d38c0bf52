"""GTPv2 F-TEID: bit layout, round trip, and tshark's independent dissection of generated messages."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sigcore.toolkit import frames, gtpv2
from sigcore.toolkit.gtpv2 import FTEID, InterfaceType

from .conftest import write_pcap

V4 = ipaddress.IPv4Address("192.0.2.10")
V6 = ipaddress.IPv6Address("2001:db8::7")
ADDRESS_MODES = {"v4": (V4, None), "v6": (None, V6), "dual": (V4, V6)}
IMSI = "001010123456789"


def test_seed_example_s5s8_pgw_gtpc_ipv4_flags_octet_is_0x87() -> None:
    ie = FTEID(InterfaceType.S5_S8_PGW_GTP_C, 0x01020304, ipv4=V4).encode()
    assert ie[0] == 87 and int.from_bytes(ie[1:3], "big") == 9 and ie[3] == 0
    assert ie[4] == 0x87
    assert ie[5:9] == (0x01020304).to_bytes(4, "big")
    assert ie[9:] == V4.packed


def test_dual_stack_layout_and_instance() -> None:
    ie = FTEID(InterfaceType.S2B_U_PGW_GTP_U, 7, ipv4=V4, ipv6=V6, instance=1).encode()
    assert int.from_bytes(ie[1:3], "big") == 1 + 4 + 4 + 16
    assert ie[3] == 1
    assert ie[4] == 0xC0 | 33
    assert ie[13:] == V6.packed


def test_interface_table_is_complete_and_named() -> None:
    assert [t.value for t in InterfaceType] == list(range(41))
    assert InterfaceType(0).description == "S1-U eNodeB GTP-U interface"
    assert InterfaceType(33).description == "S2b-U PGW GTP-U interface"


def test_unknown_interface_type_survives_decode() -> None:
    decoded = FTEID.decode(FTEID(55, 1, ipv4=V4).encode())
    assert decoded.interface_type == 55 and not isinstance(decoded.interface_type, InterfaceType)


@pytest.mark.parametrize("bad", [
    dict(interface_type=64, teid=1, ipv4=V4),
    dict(interface_type=0, teid=1 << 32, ipv4=V4),
    dict(interface_type=0, teid=1),
])
def test_invalid_fteid_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        FTEID(**bad)  # type: ignore[arg-type]


def test_truncated_ie_is_refused() -> None:
    ie = FTEID(InterfaceType.S11_MME_GTP_C, 1, ipv4=V4, ipv6=V6).encode()
    with pytest.raises(ValueError):
        FTEID.decode(ie[:-1])
    shortened = ie[:1] + (9).to_bytes(2, "big") + ie[3:13]  # claims V6 but has no room for it
    with pytest.raises(ValueError, match="IPv6"):
        FTEID.decode(shortened)


@given(
    interface=st.integers(0, 63),
    teid=st.integers(0, 0xFFFFFFFF),
    ipv4=st.none() | st.ip_addresses(v=4),
    ipv6=st.none() | st.ip_addresses(v=6),
    instance=st.integers(0, 15),
)
def test_fteid_round_trip(interface: int, teid: int, ipv4: ipaddress.IPv4Address | None,
                          ipv6: ipaddress.IPv6Address | None, instance: int) -> None:
    if ipv4 is None and ipv6 is None:
        ipv4 = V4
    fteid = FTEID(interface, teid, ipv4, ipv6, instance)
    assert FTEID.decode(fteid.encode()) == fteid


def test_message_header_lengths() -> None:
    echo = gtpv2.echo_request(sequence=0x123456, restart_counter=5)
    assert echo[0] >> 5 == 2 and echo[0] & 0x08 == 0 and echo[1] == 1
    assert int.from_bytes(echo[2:4], "big") == len(echo) - 4
    request = gtpv2.create_session_request(IMSI, FTEID(10, 1, ipv4=V4), sequence=1)
    assert request[0] & 0x08 and int.from_bytes(request[2:4], "big") == len(request) - 4


def _gtp_frame(payload: bytes, index: int) -> bytes:
    return frames.udp_frame(("127.0.0.1", 20000 + index), ("127.0.0.2", gtpv2.GTPV2C_PORT), payload)


@pytest.mark.interop
def test_tshark_dissects_every_interface_type_and_address_mode(tmp_path: Path, tshark, tshark_problems) -> None:
    cases = [(kind, mode) for kind in InterfaceType for mode in ADDRESS_MODES]
    messages = [gtpv2.echo_request(sequence=1, restart_counter=3)]
    for index, (kind, mode) in enumerate(cases):
        ipv4, ipv6 = ADDRESS_MODES[mode]
        fteid = FTEID(kind, 0x10000000 + index, ipv4, ipv6)
        messages.append(gtpv2.create_session_request(IMSI, fteid, sequence=index + 2))
    trace = write_pcap(tmp_path / "gtpv2.pcap", (_gtp_frame(m, i) for i, m in enumerate(messages)))

    assert tshark_problems(trace) == []
    rows = tshark(trace, ["gtpv2.message_type", "gtpv2.seq", "e212.imsi", "gtpv2.f_teid_interface_type",
                          "gtpv2.f_teid_gre_key", "gtpv2.f_teid_ipv4", "gtpv2.f_teid_ipv6"])
    assert len(rows) == len(messages)
    assert rows[0]["gtpv2.message_type"] == "1" and int(rows[0]["gtpv2.seq"], 0) == 1
    for index, ((kind, mode), row) in enumerate(zip(cases, rows[1:], strict=True)):
        ipv4, ipv6 = ADDRESS_MODES[mode]
        assert row["gtpv2.message_type"] == "32"
        assert row["e212.imsi"] == IMSI
        assert row["gtpv2.f_teid_interface_type"] == str(kind.value), (kind, mode)
        assert int(row["gtpv2.f_teid_gre_key"], 0) == 0x10000000 + index
        assert row["gtpv2.f_teid_ipv4"] == (str(ipv4) if ipv4 else "")
        assert row["gtpv2.f_teid_ipv6"] == (str(ipv6) if ipv6 else "")


@pytest.mark.interop
def test_the_malformed_check_does_catch_a_bad_fteid(tmp_path: Path, tshark_problems) -> None:
    """Guard against a vacuous check: an F-TEID announcing IPv6 without carrying it must be flagged."""
    good = FTEID(InterfaceType.S11_MME_GTP_C, 1, ipv4=V4).encode()
    lying = gtpv2.encode_ie(gtpv2.IEType.F_TEID, bytes((good[4] | 0x40,)) + good[5:])
    message = gtpv2.message(gtpv2.MessageType.CREATE_SESSION_REQUEST, [gtpv2.imsi_ie(IMSI), lying], 9, teid=0)
    trace = write_pcap(tmp_path / "bad.pcap", [_gtp_frame(message, 0)])
    assert tshark_problems(trace) != []
