"""The specialised per-AVP encoders (the answer hot path) give the same bytes as the generic path, for
every payload length (padding), with and without a vendor id, and the DiameterIdentity memo stays
correct and bounded."""

from __future__ import annotations

import pytest

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.avp import Avp
from sigcore.diameter.types import _IDENTITY_MEMO_MAX

# (AVP name, how to make a value of n octets); vendor and non-vendor of each kind
CASES = [
    ("Session-Id", lambda n: "s" * n),  # UTF8String, no vendor
    ("Origin-Host", lambda n: "h" * n),  # DiameterIdentity (memoised), no vendor
    ("MME-Realm", lambda n: "r" * n),  # DiameterIdentity, 3GPP vendor
    ("Service-Selection", lambda n: "apn" + "x" * n),  # UTF8String, no vendor
    ("Class", lambda n: bytes(range(n % 256)) * (n // 256 + 1)),  # OctetString, no vendor
    ("Visited-PLMN-Id", lambda n: b"\x01" * n),  # OctetString, 3GPP vendor
    ("Public-Identity", lambda n: "sip:" + "u" * n),  # UTF8String, 3GPP vendor
]


def reference(name: str, value: object) -> bytes:
    """The AVP built the generic way: an Avp object from the payload the type codec produces."""
    d = D.avp(name)
    payload = value.encode() if isinstance(value, str) else value
    assert isinstance(payload, bytes)
    return Avp(d.code, payload, d.flags, d.vendor).to_bytes()


@pytest.mark.parametrize("name,make", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 8, 63, 1023, 1024, 1025, 3000])
def test_fast_encoder_matches_the_generic_path(name: str, make, n: int) -> None:  # type: ignore[no-untyped-def]
    value = make(n)
    expected = reference(name, value)
    assert D.encode_items([(name, value)]) == expected
    assert D.encode_items([(name, value)]) == expected  # second time: cached packer / memo entry
    assert len(expected) % 4 == 0


@pytest.mark.parametrize("name", ["Vendor-Specific-Application-Id", "Subscription-Data"])
def test_grouped_encoder_matches_the_generic_path(name: str) -> None:
    children = ([("Vendor-Id", 10415), ("Auth-Application-Id", 16777251)] if name.startswith("Vendor")
                else [("MSISDN", b"\x21\x43\x65"), ("Subscriber-Status", 0)])
    d = D.avp(name)
    expected = Avp(d.code, D.encode_items(children), d.flags, d.vendor).to_bytes()
    assert D.encode_items([(name, children)]) == expected


def test_identity_memo_is_bounded_and_never_mixes_values() -> None:
    names = [f"peer{i}.memo.test" for i in range(_IDENTITY_MEMO_MAX + 50)]
    for _ in range(2):
        for host in names:
            assert D.encode_items([("Route-Record", host)]) == reference("Route-Record", host)
    # the memo is a closure of the encoder: find it through the function's cells
    encoder = D._wire_of["Route-Record"]
    memo = next(c.cell_contents for c in encoder.__closure__ or () if isinstance(c.cell_contents, dict))
    assert len(memo) == _IDENTITY_MEMO_MAX


def test_identity_memo_leaves_lists_and_errors_alone() -> None:
    hosts = ["a.example", "b.example"]
    assert D.encode_items([("Route-Record", hosts)]) == b"".join(reference("Route-Record", h) for h in hosts)
    with pytest.raises(Exception, match="Origin-Host"):
        D.encode_items([("Origin-Host", 12)])


# Number AVPs: (name, struct format of the value), vendor and non-vendor, each numeric type
NUMBERS = [
    ("Auth-Session-State", ">i"),  # Enumerated, no vendor
    ("RAT-Type", ">i"),  # Enumerated, 3GPP vendor
    ("Vendor-Id", ">I"),  # Unsigned32, no vendor
    ("Number-Of-Requested-Vectors", ">I"),  # Unsigned32, 3GPP vendor
    ("CC-Input-Octets", ">Q"),  # Unsigned64
    ("Subscription-Data-Flags", ">I"),  # Unsigned32 flags, 3GPP vendor
]


@pytest.mark.parametrize("name,fmt", NUMBERS, ids=[n[0] for n in NUMBERS])
def test_number_avps_in_messages_match_the_generic_path_and_keep_the_slow_cases(name: str, fmt: str) -> None:
    """The message loop packs number AVPs with a C-level partial (`number_packer`); what it cannot pack
    (a list repeating the AVP, an enumeration name, a value out of range) must still take the AVP
    encoder's slow path: the same bytes as before, the same EncodeError."""
    import struct

    from sigcore.diameter.errors import EncodeError

    d = D.avp(name)
    for value in (0, 1, 7, 2**31 - 1):
        expected = Avp(d.code, struct.pack(fmt, value), d.flags, d.vendor).to_bytes()
        assert D.encode_items([(name, value)]) == expected == d.wire(value)
        assert D.encode_items([(name, [value, value])]) == expected * 2  # a repeated AVP
    with pytest.raises(EncodeError):
        D.encode_items([(name, -1 if fmt.endswith(("I", "Q")) else 2**40)])
    with pytest.raises(EncodeError):
        D.encode_items([(name, "not a number")])
    if d.type == "Enumerated" and d.enum_names:
        number, label = next(iter(d.enum_names.items()))
        assert D.encode_items([(name, label)]) == D.encode_items([(name, number)])
