"""Round trips of every RFC 6733 §4.2/§4.3 data type, and the errors a wrong payload raises.

Decoders raise ``LengthError`` (5014) for a payload of the wrong size and plain ``ValueError`` (5004) for
a value that is not valid; the dictionary relies on that split to pick the Result-Code.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.errors import EncodeError
from sigcore.diameter.types import CODECS, FIXED_SIZE, NTP_UNIX_DELTA, LengthError


def roundtrip(type_name: str, value: Any) -> tuple[bytes, Any]:
    decode, encode, _ = CODECS[type_name]
    data = encode(value)
    return data, decode(data)


@pytest.mark.parametrize(
    ("type_name", "value", "wire"),
    [
        ("Integer32", -2, struct.pack(">i", -2)),
        ("Integer32", 2**31 - 1, struct.pack(">i", 2**31 - 1)),
        ("Integer64", -(2**63), struct.pack(">q", -(2**63))),
        ("Unsigned32", 2**32 - 1, struct.pack(">I", 2**32 - 1)),
        ("Unsigned64", 2**64 - 1, struct.pack(">Q", 2**64 - 1)),
        ("Float32", 1.5, struct.pack(">f", 1.5)),
        ("Float64", -0.125, struct.pack(">d", -0.125)),
        ("Enumerated", 3, struct.pack(">i", 3)),
        ("OctetString", b"\x00\xff\x10", b"\x00\xff\x10"),
        ("UTF8String", "Grüße, 世界", "Grüße, 世界".encode()),
        ("DiameterIdentity", "hss.epc.mnc001.mcc001.3gppnetwork.org", b"hss.epc.mnc001.mcc001.3gppnetwork.org"),
        ("DiameterURI", "aaa://host.example.com:3868;transport=tcp", b"aaa://host.example.com:3868;transport=tcp"),
        ("IPFilterRule", "permit in ip from any to 10.0.0.0/8", b"permit in ip from any to 10.0.0.0/8"),
    ],
)
def test_scalar_round_trip(type_name: str, value: Any, wire: bytes) -> None:
    data, back = roundtrip(type_name, value)
    assert data == wire
    assert back == value


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        ("192.0.2.1", b"\x00\x01" + bytes([192, 0, 2, 1])),
        ("2001:db8::1", b"\x00\x02" + bytes.fromhex("20010db8000000000000000000000001")),
        ((8, b"\x44\x12\x34"), b"\x00\x08\x44\x12\x34"),  # E.164 (address family 8)
    ],
)
def test_address_round_trip(value: Any, wire: bytes) -> None:
    data, back = roundtrip("Address", value)
    assert data == wire
    assert back == value


@pytest.mark.parametrize("family", [0, 0xFFFF])
def test_address_reserved_family_is_invalid_value(family: int) -> None:
    decode = CODECS["Address"][0]
    with pytest.raises(ValueError) as info:
        decode(family.to_bytes(2, "big") + b"\1\2\3\4")
    assert not isinstance(info.value, LengthError)


@pytest.mark.parametrize("payload", [b"", b"\x00", b"\x00\x01\x01\x02\x03", b"\x00\x02" + b"\0" * 4])
def test_address_wrong_size_is_length_error(payload: bytes) -> None:
    with pytest.raises(LengthError):
        CODECS["Address"][0](payload)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2036, 2, 7, 6, 28, 15, tzinfo=UTC),  # last second of NTP era 0
        datetime(2036, 2, 7, 6, 28, 16, tzinfo=UTC),  # first second of era 1: wire value 0
        datetime(2100, 1, 1, tzinfo=UTC),
    ],
)
def test_time_round_trip_across_the_2036_era_wrap(moment: datetime) -> None:
    data, back = roundtrip("Time", moment)
    assert back == moment
    ntp = int(moment.timestamp()) + NTP_UNIX_DELTA
    assert int.from_bytes(data, "big") == ntp % 2**32


def test_time_era_boundary_wire_values() -> None:
    decode = CODECS["Time"][0]
    assert decode(b"\xff\xff\xff\xff") == datetime(2036, 2, 7, 6, 28, 15, tzinfo=UTC)
    assert decode(b"\x00\x00\x00\x00") == datetime(2036, 2, 7, 6, 28, 16, tzinfo=UTC)
    # RFC 5905 convention: values with the top bit set are era 0 (from 1968 on).
    assert decode(b"\x80\x00\x00\x00") == datetime(1900, 1, 1, tzinfo=UTC) + timedelta(seconds=2**31)


def test_time_naive_datetime_is_utc_and_int_is_ntp_seconds() -> None:
    encode = CODECS["Time"][1]
    assert encode(datetime(2020, 1, 1)) == encode(datetime(2020, 1, 1, tzinfo=UTC))
    assert encode(NTP_UNIX_DELTA) == NTP_UNIX_DELTA.to_bytes(4, "big")


@pytest.mark.parametrize("payload", [b"\xff", b"abc\xc3", b"\xed\xa0\x80"])  # bad start, cut, surrogate
def test_utf8_invalid_is_value_error(payload: bytes) -> None:
    with pytest.raises(ValueError):
        CODECS["UTF8String"][0](payload)


@pytest.mark.parametrize("payload", [b"", "hôte".encode()])
def test_diameter_identity_must_be_non_empty_ascii(payload: bytes) -> None:
    with pytest.raises(ValueError):
        CODECS["DiameterIdentity"][0](payload)


@pytest.mark.parametrize(("type_name", "size"), sorted(FIXED_SIZE.items()))
def test_fixed_size_types_refuse_other_sizes(type_name: str, size: int) -> None:
    decode = CODECS[type_name][0]
    for wrong in (0, size - 1, size + 1, size * 2):
        with pytest.raises(LengthError):
            decode(b"\0" * wrong)
    decode(b"\0" * size)  # the right size decodes


@pytest.mark.parametrize(
    ("type_name", "value"),
    [("Unsigned32", -1), ("Unsigned32", 2**32), ("Integer32", "1"), ("Float32", 1e40), ("Float64", "x"),
     ("Address", "not-an-ip"), ("OctetString", 5), ("UTF8String", 5)],
)
def test_unencodable_values_raise_value_error(type_name: str, value: Any) -> None:
    with pytest.raises(ValueError):
        CODECS[type_name][1](value)


def test_enumerated_by_name_and_by_value_give_the_same_avp() -> None:
    by_name = D.build("Disconnect-Cause", "BUSY")
    by_value = D.build("Disconnect-Cause", 1)
    assert by_name.to_bytes() == by_value.to_bytes()
    assert D.value(by_name) == 1
    assert D.avp("Disconnect-Cause").enum_names[1] == "BUSY"
    with pytest.raises(EncodeError):
        D.build("Disconnect-Cause", "NOT_A_CAUSE")


def test_grouped_round_trip_through_the_dictionary() -> None:
    vsai = D.build("Vendor-Specific-Application-Id", {"Vendor-Id": 10415, "Auth-Application-Id": 16777251})
    group = D.value(vsai)
    assert group["Vendor-Id"] == 10415
    assert group["Auth-Application-Id"] == 16777251
    assert [D.name_of(a) for a in group] == ["Vendor-Id", "Auth-Application-Id"]
    assert D.build("Vendor-Specific-Application-Id", list(group)).to_bytes() == vsai.to_bytes()


@pytest.mark.parametrize(
    ("name", "value"),
    [("Origin-Host", "hss.localdomain"), ("Host-IP-Address", "::1"),
     ("Event-Timestamp", datetime(2030, 5, 1, tzinfo=UTC)), ("CC-Request-Number", 7),
     ("Product-Name", "sigcore ✓"), ("Session-Id", "a;1;2")],
)
def test_dictionary_build_and_value_agree(name: str, value: Any) -> None:
    avp = D.build(name, value)
    assert D.value(avp) == value
    assert len(avp.to_bytes()) % 4 == 0


def test_dictionary_build_reports_bad_values_as_encode_error() -> None:
    with pytest.raises(EncodeError):
        D.build("CC-Request-Number", -1)
    with pytest.raises(EncodeError):
        D.build("No-Such-AVP", 1)
