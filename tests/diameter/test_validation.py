"""Message validation against the specs' CCF (RFC 6733 §3.2, §7.1): each Result-Code with the
Failed-AVP content §7.5 asks for, on the CER/DWR/DPR and a credit-control CCR.

Every check runs three times: on a message built here (``check_avps`` over built AVPs), on the same
message decoded from its bytes (``check_raw`` over the received frame) and decoded as a node decodes
it (``decode_checked``: the check runs while decoding, its verdict is raised by ``validate``).
"""

from __future__ import annotations

import gc
from collections.abc import Callable

import pytest
from frames import UNKNOWN_VENDOR, ccr_with_mscc, cer_message, with_payload
from rawpeer import ccr, ccr_avps

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.answers import Identity
from sigcore.diameter.avp import Avp
from sigcore.diameter.capabilities import make_dpr, make_dwr
from sigcore.diameter.constants import AVP_MANDATORY, AVP_VENDOR, DisconnectCause, ResultCode
from sigcore.diameter.dictionary import Dictionary
from sigcore.diameter.errors import DiameterError
from sigcore.diameter.message import Message

IDENTITY = Identity("peer.localdomain", "localdomain")


def as_built(msg: Message) -> Message:
    return msg


def as_received(msg: Message) -> Message:
    return Message.decode(msg.encode())


def as_received_checked(msg: Message) -> Message:
    """Decoded the way a node decodes every frame: the CCF check runs in the same walk, its verdict waits
    for `validate`."""
    return D.decode_checked(msg.encode())


PATHS = pytest.mark.parametrize("path", [as_built, as_received, as_received_checked],
                                ids=["built", "received", "received-checked"])
Path = Callable[[Message], Message]


def refused(msg: Message, path: Path, dictionary: Dictionary = D) -> DiameterError:
    with pytest.raises(DiameterError) as info:
        dictionary.validate(path(msg))
    return info.value


def replaced(msg: Message, name: str, new: Avp | list[Avp]) -> Message:
    """``msg`` with every ``name`` AVP replaced by ``new`` (at the first one's position)."""
    key = D.avp(name).key
    out: list[Avp] = []
    for a in msg.avps:
        if a.key == key:
            if not any(x.key == key for x in out):
                out.extend(new if isinstance(new, list) else [new])
            continue
        out.append(a)
    return Message(msg.code, msg.app_id, msg.flags, msg.hop_by_hop, msg.end_to_end, out)


def without(msg: Message, name: str) -> Message:
    return replaced(msg, name, [])


def ccr_request() -> Message:
    return ccr(hbh=3, e2e=4)


# --- valid messages pass -------------------------------------------------------------------------

@PATHS
@pytest.mark.parametrize(
    ("make", "command"),
    [
        (cer_message, "Capabilities-Exchange-Request"),
        (lambda: make_dwr(IDENTITY), "Device-Watchdog-Request"),
        (lambda: make_dpr(IDENTITY, DisconnectCause.BUSY), "Disconnect-Peer-Request"),
        (ccr_request, "Credit-Control-Request"),
        (ccr_with_mscc, "Credit-Control-Request"),
    ],
)
def test_valid_messages_pass(make: Callable[[], Message], command: str, path: Path) -> None:
    cmd = D.validate(path(make()))
    assert cmd is not None and cmd.name == command


def test_unknown_command_is_not_checked() -> None:
    assert D.validate(Message(9999, 0, 0x80, 1, 1, [Avp(1, b"x", AVP_MANDATORY, UNKNOWN_VENDOR)])) is None


# --- 5005 MISSING_AVP ----------------------------------------------------------------------------

@PATHS
@pytest.mark.parametrize(
    ("make", "name", "example"),
    [
        (cer_message, "Origin-Host", b""),
        (cer_message, "Vendor-Id", b"\0\0\0\0"),
        (cer_message, "Host-IP-Address", b"\0\1\0\0\0\0"),  # 1*{ }: zero-filled IPv4 address
        (lambda: make_dwr(IDENTITY), "Origin-Realm", b""),
        (lambda: make_dpr(IDENTITY, DisconnectCause.REBOOTING), "Disconnect-Cause", b"\0\0\0\0"),
        (ccr_request, "CC-Request-Number", b"\0\0\0\0"),
    ],
)
def test_missing_avp_is_5005_with_a_zero_filled_example(
        make: Callable[[], Message], name: str, example: bytes, path: Path) -> None:
    err = refused(without(make(), name), path)
    assert err.result_code == ResultCode.MISSING_AVP
    (failed,) = err.failed_avps
    assert (failed.key, failed.data) == (D.avp(name).key, example)
    assert failed.flags == D.avp(name).flags


@pytest.mark.parametrize("decode", [Message.decode, D.decode_checked], ids=["decode", "decode_checked"])
def test_a_received_message_given_new_avps_is_checked_on_them(decode: Callable[[bytes], Message]) -> None:
    """Replacing a decoded message's AVP list (a transform, the TLS CER rewrite) leaves its received bytes
    behind: validate checks the new list. It used to check the old bytes and pass a CER without Origin-Host."""
    msg = decode(cer_message().encode())
    msg.avps = without(msg, "Origin-Host").avps
    err = refused(msg, as_built)
    assert err.result_code == ResultCode.MISSING_AVP


def test_decode_checked_keeps_the_fault_for_validate_after_the_delivery_checks() -> None:
    """A request the CCF refuses still decodes (the node's 3xxx checks need its AVPs); validate raises."""
    frame = without(cer_message(), "Origin-Host").encode()
    msg = D.decode_checked(frame)
    assert [a.to_bytes() for a in msg.avps] == [a.to_bytes() for a in Message.decode(frame).avps]
    fault = msg.fault
    assert fault is not None and fault.result_code == ResultCode.MISSING_AVP
    assert refused(msg, as_built) is fault
    again = refused(msg, as_built)  # validated a second time: the bytes are checked again
    assert (again.result_code, [a.to_bytes() for a in again.failed_avps]) == \
        (fault.result_code, [a.to_bytes() for a in fault.failed_avps])


def test_a_refused_request_leaves_no_cyclic_garbage() -> None:
    """decode_checked keeps the CCF's error on the message; neither keeping nor raising it may build a
    reference cycle (35 objects per refused request before), which only the cyclic collector would free."""
    frame = without(cer_message(), "Origin-Host").encode()
    gc.collect()
    gc.disable()
    try:
        for _ in range(50):
            msg = D.decode_checked(frame)
            with pytest.raises(DiameterError):
                D.validate(msg)
            del msg
        assert gc.collect() == 0
    finally:
        gc.enable()


# --- 5008 AVP_NOT_ALLOWED, 5009 AVP_OCCURS_TOO_MANY_TIMES -------------------------------------

@PATHS
def test_avp_not_allowed_inside_a_group_is_5008_wrapped_in_the_group(path: Path) -> None:
    vsai = D.build("Vendor-Specific-Application-Id",
                   [("Vendor-Id", 10415), ("Auth-Application-Id", 16777251), ("Supported-Vendor-Id", 10415)])
    err = refused(replaced(cer_message(), "Vendor-Specific-Application-Id", vsai), path)
    assert err.result_code == ResultCode.AVP_NOT_ALLOWED
    (failed,) = err.failed_avps
    assert failed.key == vsai.key
    assert failed.children() == [D.build("Supported-Vendor-Id", 10415)]


@PATHS
@pytest.mark.parametrize(
    ("make", "name"),
    [(cer_message, "Origin-Host"), (lambda: make_dpr(IDENTITY, DisconnectCause.BUSY), "Disconnect-Cause"),
     (ccr_request, "Session-Id"), (ccr_request, "CC-Request-Type")],
)
def test_second_single_avp_is_5009_with_the_second_one(make: Callable[[], Message], name: str, path: Path) -> None:
    msg = make()
    first = next(a for a in msg.avps if a.key == D.avp(name).key)
    second = with_payload(first, first.data[:-1] + b"2") if D.avp(name).fixed_size is None else \
        with_payload(first, first.data)
    err = refused(replaced(msg, name, [first, second]), path)
    assert err.result_code == ResultCode.AVP_OCCURS_TOO_MANY_TIMES
    assert err.failed_avps == [second]


@PATHS
def test_repeatable_avps_may_repeat(path: Path) -> None:
    msg = cer_message()
    msg.avps.extend(D.build("Host-IP-Address", ip) for ip in ("10.0.0.1", "::1"))
    msg.avps.extend(D.build("Supported-Vendor-Id", v) for v in (1, 2, 3))
    assert D.validate(path(msg)) is not None


# --- 5001 AVP_UNSUPPORTED ------------------------------------------------------------------------

@PATHS
@pytest.mark.parametrize("vendor", [0, UNKNOWN_VENDOR])
def test_unknown_mandatory_avp_is_5001_with_the_avp(vendor: int, path: Path) -> None:
    unknown = Avp(4242, b"\1\2\3", AVP_MANDATORY, vendor)
    msg = ccr_request()
    msg.avps.append(unknown)
    err = refused(msg, path)
    assert err.result_code == ResultCode.AVP_UNSUPPORTED
    assert err.failed_avps == [unknown]


@PATHS
def test_unknown_optional_avps_are_ignored_even_where_no_wildcard_is(path: Path) -> None:
    vsai = D.build("Vendor-Specific-Application-Id",
                   [("Vendor-Id", 10415), ("Auth-Application-Id", 16777251), Avp(4242, b"x", 0)])
    msg = replaced(cer_message(), "Vendor-Specific-Application-Id", vsai)
    msg.avps.append(Avp(4243, b"y", 0, UNKNOWN_VENDOR))
    assert D.validate(path(msg)) is not None


# --- 5004 INVALID_AVP_VALUE, 5014 INVALID_AVP_LENGTH --------------------------------------------

@PATHS
@pytest.mark.parametrize(
    ("make", "name", "payload"),
    [
        (lambda: make_dpr(IDENTITY, DisconnectCause.BUSY), "Disconnect-Cause", (7).to_bytes(4, "big")),
        (cer_message, "Host-IP-Address", b"\0\0\x0a\0\0\1"),  # address family 0 is reserved
        (cer_message, "Product-Name", b"sigcore \xff"),  # not UTF-8
        (cer_message, "Origin-Host", "hôte.example".encode()),  # DiameterIdentity is ASCII
        (ccr_request, "Service-Context-Id", b"\xc3"),  # UTF8String cut inside a character
    ],
)
def test_invalid_value_is_5004_with_the_avp(make: Callable[[], Message], name: str, payload: bytes,
                                            path: Path) -> None:
    msg = make()
    bad = with_payload(D.build(name, D.get_value(msg.avps, name)), payload)
    err = refused(replaced(msg, name, bad), path)
    assert err.result_code == ResultCode.INVALID_AVP_VALUE
    assert err.failed_avps == [bad]


@PATHS
@pytest.mark.parametrize(
    ("make", "name", "payload"),
    [
        (cer_message, "Vendor-Id", b"\0\0\0"),
        (cer_message, "Firmware-Revision", b"\0\0\0\0\0"),
        (lambda: make_dpr(IDENTITY, DisconnectCause.BUSY), "Disconnect-Cause", b""),
        (cer_message, "Host-IP-Address", b"\0\1\x7f\0\0\1\0"),  # IPv4 with 5 octets
        (ccr_request, "CC-Request-Number", b"\0" * 8),
    ],
)
def test_fixed_size_with_wrong_size_is_5014_with_the_avp(make: Callable[[], Message], name: str, payload: bytes,
                                                        path: Path) -> None:
    msg = make()
    bad = with_payload(D.build(name, D.get_value(msg.avps, name)), payload)
    err = refused(replaced(msg, name, bad), path)
    assert err.result_code == ResultCode.INVALID_AVP_LENGTH
    assert err.failed_avps == [bad]


# --- errors inside grouped AVPs ------------------------------------------------------------------

def mscc_with(value_digits: Avp) -> Avp:
    unit = D.build("Unit-Value", [value_digits])
    money = D.build("CC-Money", [unit])
    usu = D.build("Used-Service-Unit", [money])
    return D.build("Multiple-Services-Credit-Control", [usu])


@PATHS
def test_error_five_levels_down_is_wrapped_in_every_parent(path: Path) -> None:
    bad = with_payload(D.build("Value-Digits", 1), b"\0\0\0\1")  # Integer64 with 4 octets
    msg = ccr_request()
    msg.avps.append(mscc_with(bad))
    err = refused(msg, path)
    assert err.result_code == ResultCode.INVALID_AVP_LENGTH
    (failed,) = err.failed_avps
    names = []
    while failed.key != bad.key:
        names.append(D.name_of(failed))
        (failed,) = failed.children()
    assert names == ["Multiple-Services-Credit-Control", "Used-Service-Unit", "CC-Money", "Unit-Value"]
    assert failed == bad


@PATHS
def test_missing_avp_inside_a_group_is_wrapped_in_the_group(path: Path) -> None:
    msg = ccr_request()
    msg.avps.append(D.build("Subscription-Id", [("Subscription-Id-Type", 1)]))
    err = refused(msg, path)
    assert err.result_code == ResultCode.MISSING_AVP
    (failed,) = err.failed_avps
    assert D.name_of(failed) == "Subscription-Id"
    (inner,) = failed.children()
    assert (D.name_of(inner), inner.data) == ("Subscription-Id-Data", b"")


@PATHS
def test_malformed_child_length_inside_a_group_is_5014(path: Path) -> None:
    child = D.build("Vendor-Id", 10415).to_bytes()
    broken = child[:5] + (40).to_bytes(3, "big") + child[8:]  # length points past the group
    vsai = Avp(*D.avp("Vendor-Specific-Application-Id").key[:1], broken, AVP_MANDATORY)
    err = refused(replaced(cer_message(), "Vendor-Specific-Application-Id", vsai), path)
    assert err.result_code == ResultCode.INVALID_AVP_LENGTH
    (failed,) = err.failed_avps
    assert D.name_of(failed) == "Vendor-Specific-Application-Id"
    (inner,) = failed.children()
    assert (D.name_of(inner), inner.data) == ("Vendor-Id", b"\0\0\0\0")


def test_check_avps_validates_a_group_against_its_own_rules() -> None:
    rules = D.avp("Subscription-Id").rules
    D.check_avps([D.build("Subscription-Id-Type", 1), D.build("Subscription-Id-Data", "123")], rules)
    with pytest.raises(DiameterError) as info:
        D.check_avps([D.build("Subscription-Id-Type", 1)], rules)
    assert info.value.result_code == ResultCode.MISSING_AVP


# --- 3009 INVALID_AVP_BITS, and a dictionary without wildcards --------------------------------

def tiny_dictionary() -> Dictionary:
    d = Dictionary()
    d.add_data({
        "avps": [
            {"code": 1, "name": "Plain", "type": "Unsigned32", "flags": "M"},
            {"code": 2, "name": "Never-Mandatory", "type": "UTF8String", "flags": "", "must_not": "M"},
            {"code": 3, "name": "Elsewhere", "type": "Unsigned32", "flags": "M"},
            {"code": 4, "name": "Forbidden", "type": "Unsigned32", "flags": "M"},
        ],
        "commands": [{"code": 9000, "request": True, "name": "Tiny-Request",
                      "rules": ["{ Plain }", "[ Never-Mandatory ]", "0*0[ Forbidden ]"]}],
    })
    d.compile()
    return d


def tiny_request(*extra: Avp) -> Message:
    return Message(9000, 0, 0x80, 1, 1, [Avp(1, b"\0\0\0\1", AVP_MANDATORY), *extra])


@PATHS
def test_m_bit_on_a_must_not_m_avp_is_3009(path: Path) -> None:
    d = tiny_dictionary()
    assert d.validate(path(tiny_request(Avp(2, b"text", 0)))) is not None
    bad = Avp(2, b"text", AVP_MANDATORY)
    err = refused(tiny_request(bad), path, d)
    assert err.result_code == ResultCode.INVALID_AVP_BITS
    assert err.is_protocol_error
    assert err.failed_avps == [bad]


@PATHS
def test_m_bit_on_a_real_must_not_m_avp_is_3009(path: Path) -> None:
    msg = cer_message()
    product = D.build("Product-Name", "sigcore", flags=AVP_MANDATORY)
    err = refused(replaced(msg, "Product-Name", product), path)
    assert err.result_code == ResultCode.INVALID_AVP_BITS
    assert err.failed_avps == [product]


@PATHS
def test_known_avp_outside_the_ccf_without_wildcard_is_5008(path: Path) -> None:
    elsewhere = Avp(3, b"\0\0\0\0", AVP_MANDATORY)
    err = refused(tiny_request(elsewhere), path, tiny_dictionary())
    assert err.result_code == ResultCode.AVP_NOT_ALLOWED
    assert err.failed_avps == [elsewhere]


@PATHS
def test_avp_with_a_zero_maximum_is_5008(path: Path) -> None:
    """RFC 6733 §3.2: a max of zero means the AVP MUST NOT be present, which §7.1.5 answers with 5008."""
    forbidden = Avp(4, b"\0\0\0\0", AVP_MANDATORY)
    err = refused(tiny_request(forbidden), path, tiny_dictionary())
    assert err.result_code == ResultCode.AVP_NOT_ALLOWED
    assert err.failed_avps == [forbidden]


def test_vendor_flag_of_a_built_avp_follows_the_definition() -> None:
    assert D.build("Supported-Features", [("Vendor-Id", 10415), ("Feature-List-ID", 1), ("Feature-List", 3)]
                   ).flags & AVP_VENDOR


def test_ccr_helper_builds_a_valid_request() -> None:
    assert D.validate(Message(272, 4, 0xC0, 1, 1, ccr_avps(origin="x.localdomain"))) is not None
