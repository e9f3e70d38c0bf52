"""``Dictionary.items``: the eager decode of a whole message into the (name, value) form the encoder takes."""

from __future__ import annotations

import struct

import pytest
from frames import nested_unknown

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.avp import Avp
from sigcore.diameter.errors import DecodeError, DiameterError
from sigcore.diameter.message import Message

S6A = 16777251
SUBSCRIPTION = [
    ("Session-Id", "mme.localdomain;1;2"),
    ("Vendor-Specific-Application-Id", [("Vendor-Id", 10415), ("Auth-Application-Id", S6A)]),
    ("Result-Code", 2001),
    ("Auth-Session-State", 1),
    ("Origin-Host", "hss.localdomain"),
    ("Origin-Realm", "localdomain"),
    ("ULA-Flags", 1),
    ("Subscription-Data", [
        ("MSISDN", b"\x51\x55\x21\x43\x65\xf7"),
        ("Subscriber-Status", 0),
        ("AMBR", [("Max-Requested-Bandwidth-UL", 100_000_000), ("Max-Requested-Bandwidth-DL", 4_000_000_000)]),
        ("APN-Configuration-Profile", [
            ("Context-Identifier", 1),
            ("All-APN-Configurations-Included-Indicator", 0),
            ("APN-Configuration", [("Context-Identifier", 1), ("PDN-Type", 0), ("Service-Selection", "internet"),
                                   ("Served-Party-IP-Address", "192.0.2.7")]),
        ]),
    ]),
    ("Origin-State-Id", 0xFFFFFFFF),
    ("Error-Message", "Grüße"),  # text that is not ASCII
]


def ula() -> bytes:
    return D.message(316, S6A, 0x40, SUBSCRIPTION, 1, 2).encode()


def test_items_are_the_values_the_message_was_built_from() -> None:
    wire = ula()
    assert D.items(wire) == SUBSCRIPTION
    assert D.items(Message.decode(wire)) == SUBSCRIPTION
    assert D.encode_items(D.items(wire)) == wire[20:]


def test_a_built_message_without_bytes_is_read_from_its_avps() -> None:
    msg = Message(316, S6A, 0x40, 1, 2, D.build_many(SUBSCRIPTION))
    assert msg.raw is None
    assert D.items(msg) == SUBSCRIPTION


def test_signed_and_64_bit_numbers() -> None:
    items = [("Session-Id", "x"), ("Acct-Interim-Interval", 7), ("CC-Input-Octets", (1 << 64) - 1),
             ("Exponent", -3), ("Value-Digits", -(1 << 63)), ("Tariff-Time-Change", 3_900_000_000)]
    wire = D.message(272, 4, 0x40, items).encode()
    got = dict(D.items(wire))
    assert got["Exponent"] == -3 and got["Value-Digits"] == -(1 << 63)
    assert got["CC-Input-Octets"] == (1 << 64) - 1
    assert got["Tariff-Time-Change"] == D.value(Message.decode(wire).find(451))


def test_unknown_avps_stay_byte_exact() -> None:
    unknown = nested_unknown(3)
    wire = Message(316, S6A, 0x40, 1, 2, [D.build("Session-Id", "s"), unknown]).encode()
    items = D.items(wire)
    assert items[1] == unknown and isinstance(items[1], Avp)
    assert D.encode_items(items) == wire[20:]


def corrupt(wire: bytes, name: str, payload: bytes) -> bytes:
    """``wire`` with the first ``name`` AVP's payload replaced (same length), found by the codec."""
    d = D.avp(name)
    msg = Message.decode(wire)
    avps = [Avp(a.code, payload, a.flags, a.vendor) if a.key == d.key else a for a in msg.avps]
    return Message(msg.code, msg.app_id, msg.flags, 1, 2, avps).encode()


def test_a_number_of_the_wrong_size_is_5014() -> None:
    wire = corrupt(ula(), "Result-Code", b"\0\0\7\xd1\0")
    with pytest.raises(DiameterError) as err:
        D.items(wire)
    assert err.value.result_code == 5014
    assert err.value.failed_avps[0].code == D.avp("Result-Code").code


def test_text_that_is_not_utf8_is_5004() -> None:
    wire = corrupt(ula(), "Error-Message", b"\xff\xfe")
    with pytest.raises(DiameterError) as err:
        D.items(wire)
    assert err.value.result_code == 5004


def test_an_avp_longer_than_its_group_is_5014_with_the_header() -> None:
    wire = bytearray(ula())
    # the Vendor-Id inside Vendor-Specific-Application-Id claims more octets than the group holds
    msg = Message.decode(bytes(wire))
    offset = 20 + len(msg.avps[0].to_bytes()) + 8
    struct.pack_into(">I", wire, offset + 4, (0x40 << 24) | 200)
    with pytest.raises(DecodeError) as err:
        D.items(bytes(wire))
    assert err.value.result_code == 5014 and err.value.header is not None and err.value.header.code == 316


@pytest.mark.parametrize("cut", [1, 4, 19])
def test_a_frame_whose_length_is_wrong_is_5015(cut: int) -> None:
    with pytest.raises(DecodeError) as err:
        D.items(ula()[:-cut])
    assert err.value.result_code == 5015


def with_raw_avp(head: bytes, payload: bytes) -> bytes:
    """A CCR holding Session-Id and then the AVP given as raw header and payload."""
    raw = head + payload + b"\0" * (-len(payload) % 4)
    wire = D.message(272, 4, 0x40, [("Session-Id", "s")]).encode()
    return struct.pack(">I", (1 << 24) | (len(wire) + len(raw))) + wire[4:] + raw


@pytest.mark.parametrize("name,value,payload", [
    ("Result-Code", 2001, struct.pack(">I", 2001)),
    ("Value-Digits", -5, struct.pack(">q", -5)),
    ("Origin-Host", "hss.example", b"hss.example"),
    ("Vendor-Specific-Application-Id", [("Vendor-Id", 10415), ("Auth-Application-Id", S6A)],
     D.encode_items([("Vendor-Id", 10415), ("Auth-Application-Id", S6A)])),
])
def test_a_base_avp_sent_with_the_v_bit_and_vendor_0_reads_like_the_lazy_api(name: str, value: object,
                                                                            payload: bytes) -> None:
    """RFC 6733 §4.1: vendor 0 is the IETF's; the header is 12 octets, not the 8 the dictionary's entry
    for the base AVP implies."""
    code = D.avp(name).code
    wire = with_raw_avp(struct.pack(">III", code, (0xC0 << 24) | (12 + len(payload)), 0), payload)
    assert D.items(wire)[1] == (name, value)
    if name != "Vendor-Specific-Application-Id":
        assert D.value(Message.decode(wire).avps[1]) == value
    if name in ("Result-Code", "Value-Digits"):  # the wrong size for a fixed-size type is still 5014
        with pytest.raises(DiameterError) as err:
            D.items(with_raw_avp(struct.pack(">III", code, (0xC0 << 24) | 14, 0), b"\0\0"))
        assert err.value.result_code == 5014
