"""The wire codec on its own (RFC 6733 §3 header, §4.1 AVP header): fields, flags, padding, nesting,
byte-exact unknown AVPs, and every way ``Message.decode`` refuses bytes."""

from __future__ import annotations

import struct

import pytest
from frames import (
    UNKNOWN_VENDOR,
    avp_offsets,
    ccr_with_mscc,
    cer_message,
    nested_unknown,
    with_avp_length,
    with_message_length,
)
from rawpeer import ccr

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.avp import Avp
from sigcore.diameter.constants import (
    AVP_MANDATORY,
    AVP_PROTECTED,
    AVP_VENDOR,
    FLAG_ERROR,
    FLAG_PROXIABLE,
    FLAG_REQUEST,
    FLAG_RETRANSMIT,
    ResultCode,
)
from sigcore.diameter.errors import DecodeError
from sigcore.diameter.message import Message, peek_header


def test_header_fields_on_the_wire() -> None:
    msg = Message(0xABCDEF, 16777251, FLAG_REQUEST | FLAG_PROXIABLE, 0x01020304, 0xA0B0C0D0,
                  [D.build("Origin-Host", "a.b")])
    wire = msg.encode()
    version_len, flags_code, app, hbh, e2e = struct.unpack_from(">IIIII", wire)
    assert version_len >> 24 == 1
    assert version_len & 0xFFFFFF == len(wire) == 20 + 12
    assert (flags_code >> 24, flags_code & 0xFFFFFF) == (0xC0, 0xABCDEF)
    assert (app, hbh, e2e) == (16777251, 0x01020304, 0xA0B0C0D0)
    assert peek_header(wire) == (1, len(wire), 0xC0, 0xABCDEF, 16777251, 0x01020304, 0xA0B0C0D0)


@pytest.mark.parametrize(
    ("flags", "is_request", "proxiable", "error", "retransmit"),
    [
        (FLAG_REQUEST, True, False, False, False),
        (FLAG_PROXIABLE, False, True, False, False),
        (FLAG_ERROR, False, False, True, False),
        (FLAG_REQUEST | FLAG_RETRANSMIT, True, False, False, True),
        (0xF0, True, True, True, True),
    ],
)
def test_header_flags_round_trip(flags: int, is_request: bool, proxiable: bool, error: bool, retransmit: bool) -> None:
    msg = Message.decode(Message(257, 0, flags, 1, 2, []).encode())
    assert msg.flags == flags
    assert (msg.is_request, msg.is_proxiable, msg.is_error, msg.is_retransmit) == (
        is_request, proxiable, error, retransmit)
    assert peek_header(msg.encode()).is_request is is_request


def test_peek_header_reads_at_an_offset_without_decoding() -> None:
    first = ccr(hbh=1).encode()
    second = cer_message().encode()
    head = peek_header(first + second, len(first))
    assert (head.code, head.hop_by_hop, head.length) == (257, 0x1234, len(second))


@pytest.mark.parametrize(
    ("flags", "vendor", "header_len"),
    [(0, 0, 8), (AVP_MANDATORY, 0, 8), (AVP_PROTECTED, 0, 8), (AVP_MANDATORY | AVP_PROTECTED, 10415, 12),
     (AVP_VENDOR, 10415, 12), (0, 0xFFFFFFFF, 12)],
)
def test_avp_flags_and_vendor_round_trip(flags: int, vendor: int, header_len: int) -> None:
    avp = Avp(0x12345678, b"payload", flags, vendor)
    wire = avp.to_bytes()
    code, flags_len = struct.unpack_from(">II", wire)
    assert code == 0x12345678
    assert flags_len & 0xFFFFFF == header_len + 7
    assert bool(flags_len >> 24 & AVP_VENDOR) is bool(vendor)
    back = Message.decode(Message(1, avps=[avp]).encode()).avps[0]
    assert back == avp
    assert (back.vendor, back.mandatory, back.protected) == (vendor, bool(flags & AVP_MANDATORY),
                                                            bool(flags & AVP_PROTECTED))
    assert back.header_len == header_len


def test_avp_v_bit_follows_the_vendor_id() -> None:
    assert Avp(1, b"", AVP_VENDOR, 0).flags & AVP_VENDOR == 0
    assert Avp(1, b"", 0, 5).flags & AVP_VENDOR


@pytest.mark.parametrize("size", range(6))
def test_padding_for_payload_lengths_0_to_5(size: int) -> None:
    data = bytes(range(1, size + 1))
    avp = Avp(700, data, 0)
    wire = avp.to_bytes()
    padded = (8 + size + 3) & ~3
    assert len(wire) == avp.wire_len() == padded
    assert int.from_bytes(wire[5:8], "big") == 8 + size  # the length excludes padding
    assert wire[8 + size:] == b"\0" * (padded - 8 - size)
    msg_wire = Message(1, avps=[avp, Avp(701, b"next", 0)]).encode()
    back = Message.decode(msg_wire)
    assert [a.data for a in back.avps] == [data, b"next"]
    assert back.encode() == msg_wire


def test_nested_unknown_avps_six_deep_survive_byte_exact() -> None:
    outer = nested_unknown(6)
    wire = Message(1, avps=[outer]).encode()
    back = Message.decode(wire)
    assert back.encode() == wire
    avp = back.avps[0]
    for level in range(1, 6):
        assert (avp.code, avp.vendor) == (1000 + level, UNKNOWN_VENDOR)
        (avp,) = avp.children()
    assert avp.code == 1006 and avp.data == b"leaf!"


def test_known_grouped_five_levels_deep_decode_by_name() -> None:
    wire = ccr_with_mscc().encode()
    msg = Message.decode(wire)
    assert msg.encode() == wire
    usu = msg["Multiple-Services-Credit-Control"]["Used-Service-Unit"]
    unit = usu["CC-Money"]["Unit-Value"]
    assert (unit["Value-Digits"], unit["Exponent"]) == (1234, -2)
    assert usu["CC-Money"]["Currency-Code"] == 978


def test_unknown_avps_are_kept_byte_exact_for_a_relay() -> None:
    unknown = [
        Avp(4242, b"\x01\x02\x03", AVP_MANDATORY),  # unknown IETF code, odd length
        Avp(77, b"vendor stuff", AVP_PROTECTED, UNKNOWN_VENDOR),
        nested_unknown(3),
    ]
    wire = Message(272, 4, FLAG_REQUEST | FLAG_PROXIABLE, 5, 6, ccr().avps + unknown).encode()
    received = Message.decode(wire)
    assert received.encode() == wire
    relayed = Message(272, 4, received.flags, 99, received.end_to_end, received.avps).encode()
    assert relayed[20:] == wire[20:]
    assert [D.value(a) for a in received.avps[-3:]] == [a.data for a in unknown]  # raw bytes, not decoded


def test_decode_keeps_the_received_bytes() -> None:
    wire = cer_message().encode()
    assert Message.decode(wire).raw is wire


# --- DecodeError paths ---------------------------------------------------------------------------

def decode_error(wire: bytes) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        Message.decode(wire)
    return info.value


@pytest.mark.parametrize("size", [0, 1, 19])
def test_shorter_than_a_header_is_5015_and_fatal(size: int) -> None:
    err = decode_error(ccr().encode()[:size])
    assert err.result_code == ResultCode.INVALID_MESSAGE_LENGTH
    assert err.fatal and err.header is None


def test_bad_version_is_5011_with_the_header() -> None:
    wire = bytearray(ccr(hbh=9).encode())
    wire[0] = 2
    err = decode_error(bytes(wire))
    assert err.result_code == ResultCode.UNSUPPORTED_VERSION
    assert err.header is not None and err.header.hop_by_hop == 9


@pytest.mark.parametrize("delta", [-4, -1, 1, 4])
def test_header_length_not_matching_the_frame_is_5015(delta: int) -> None:
    wire = ccr().encode()
    err = decode_error(with_message_length(wire, len(wire) + delta))
    assert err.result_code == ResultCode.INVALID_MESSAGE_LENGTH
    assert err.header is not None and err.header.code == 272


def test_length_not_a_multiple_of_4_is_5015() -> None:
    wire = ccr().encode() + b"\0\0"
    err = decode_error(with_message_length(wire, len(wire)))
    assert err.result_code == ResultCode.INVALID_MESSAGE_LENGTH
    assert str(err).endswith(f"message length {len(wire)} is not a multiple of 4")  # not "says N, has N"


def failed(err: DecodeError) -> Avp:
    assert err.result_code == ResultCode.INVALID_AVP_LENGTH
    assert err.header is not None
    (avp,) = err.failed_avps
    return avp


@pytest.mark.parametrize("bad_length", [0, 7])
def test_avp_length_below_its_header_is_5014_with_the_header_in_failed_avp(bad_length: int) -> None:
    wire = ccr().encode()
    off = avp_offsets(wire)[6]  # CC-Request-Type (Enumerated, M-bit)
    avp = failed(decode_error(with_avp_length(wire, off, bad_length)))
    assert (avp.code, avp.flags, avp.vendor) == (416, AVP_MANDATORY, 0)
    # RFC 6733 §7.1.5: the offending header with a zero-filled payload of the type's minimum length.
    assert avp.data == b"\0\0\0\0"


def test_vendor_avp_length_below_12_is_5014() -> None:
    vendor_avp = Avp(1, b"\0\0\0\1", AVP_MANDATORY, 10415)
    wire = Message(1, avps=[vendor_avp]).encode()
    avp = failed(decode_error(with_avp_length(wire, 20, 11)))
    assert (avp.code, avp.vendor) == (1, 10415) and avp.flags & AVP_VENDOR


def test_avp_length_beyond_the_message_is_5014() -> None:
    wire = ccr().encode()
    last = avp_offsets(wire)[-1]  # CC-Request-Number (Unsigned32)
    avp = failed(decode_error(with_avp_length(wire, last, len(wire) - last + 1)))
    assert (avp.code, avp.data) == (415, b"\0\0\0\0")


def test_grouped_avp_length_beyond_the_message_fails_with_an_empty_payload() -> None:
    wire = ccr_with_mscc().encode()
    last = avp_offsets(wire)[-1]
    avp = failed(decode_error(with_avp_length(wire, last, 0xFFFFFF)))
    assert (avp.code, avp.data) == (456, b"")  # RFC 6733 §7.1.5: a Grouped header with an empty payload


def test_truncated_avp_header_is_5014_padded_with_zeros() -> None:
    wire = ccr().encode() + struct.pack(">I", 263)  # four octets: only the code of a Session-Id
    err = decode_error(with_message_length(wire, len(wire)))
    avp = failed(err)
    assert (avp.code, avp.flags) == (263, 0)
    assert len(avp.to_bytes()) >= 8


def test_truncated_vendor_header_keeps_its_v_bit() -> None:
    wire = ccr().encode() + struct.pack(">II", 1, (AVP_VENDOR << 24) | 16)  # V-bit, vendor id cut off
    avp = failed(decode_error(with_message_length(wire, len(wire))))
    assert avp.code == 1 and avp.flags & AVP_VENDOR
    assert len(avp.to_bytes()) >= 12  # RFC 6733 §7.1.5: zero-padded to the minimum header length


def test_grouped_children_are_checked_only_when_read() -> None:
    child = Avp(1, b"abcd", 0)
    broken_child = with_avp_length(child.to_bytes(), 0, 40)
    wire = Message(1, avps=[Avp(2, broken_child, 0)]).encode()
    msg = Message.decode(wire)  # top level is fine
    with pytest.raises(DecodeError) as info:
        msg.avps[0].children()
    assert info.value.result_code == ResultCode.INVALID_AVP_LENGTH
