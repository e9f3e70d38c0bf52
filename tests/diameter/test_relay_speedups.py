"""The relay's compiled reads (`_speedups.relay_facts`, `_speedups.result_code`) against the Python walks
they stand in for (`Routing.read_plain`, `result_code_plain`): the same facts on valid messages, on
mutated ones (hypothesis), for bytes and bytearray; where an AVP header does not fit, the compiled read
gives way and the Python walk raises its ValueError."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_decoder_fuzz import FAST, length_mutations, mutations

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter import relay
from sigcore.diameter.avp import Avp
from sigcore.diameter.message import Message
from sigcore.diameter.relay import Routing, result_code, result_code_plain

speedups = relay._speedups
needs_speedups = pytest.mark.skipif(speedups is None, reason="sigcore.diameter._speedups is not built")
OWN = b"dra.localdomain"


def plain_routing(buf: bytes | bytearray) -> tuple[str | None, str | None, bool] | type[ValueError]:
    r = Routing.__new__(Routing)
    try:
        r.read_plain(buf, OWN)
    except ValueError:
        return ValueError
    return r.destination_host, r.destination_realm, r.looped


def fast_routing(buf: bytes | bytearray) -> tuple[str | None, str | None, bool] | type[ValueError]:
    try:
        r = Routing(buf, OWN)
    except ValueError:
        return ValueError
    return r.destination_host, r.destination_realm, r.looped


def plain_rc(buf: bytes | bytearray) -> int | type[ValueError] | None:
    try:
        return result_code_plain(buf)
    except ValueError:
        return ValueError


def fast_rc(buf: bytes | bytearray) -> int | type[ValueError] | None:
    try:
        return result_code(buf)
    except ValueError:
        return ValueError


def same(frame: bytes) -> None:
    for buf in (frame, bytearray(frame), memoryview(frame)):  # memoryview: not compiled, the plain walk
        assert fast_routing(buf) == plain_routing(frame)
        assert fast_rc(buf) == plain_rc(frame)


REQUEST = Message(318, 16777251, 0xC0, 1, 2, [
    D.build("Session-Id", "mme;1"), D.build("Origin-Host", "mme.localdomain"),
    D.build("Destination-Host", "HSS1.LocalDomain"), D.build("Destination-Realm", "LocalDomain"),
    D.build("Route-Record", "x.localdomain"), D.build("Route-Record", "DRA.localdomain"),
    Avp(283, b"vendor.realm", flags=0x80, vendor=10415), D.build("Destination-Realm", "second.realm"),
]).encode()
ANSWER = Message(318, 16777251, 0x40, 1, 2, [
    D.build("Session-Id", "hss;1"), Avp(268, b"\0\0\x0b\xb9", flags=0x80, vendor=10415),
    D.build("Result-Code", 3004), D.build("Result-Code", 2001)]).encode()


@needs_speedups
@pytest.mark.parametrize("frame", [REQUEST, ANSWER, REQUEST[:20], ANSWER[:-2], REQUEST[:-1],
                                   REQUEST[:20] + b"\0\0\x01\x1b\0\0\0\x07x"])
def test_the_compiled_reads_give_what_the_python_walks_give(frame: bytes) -> None:
    same(frame)


def test_the_reads_of_a_request_and_an_answer() -> None:
    """The facts themselves (whichever walk runs): the last Destination-Realm/-Host of vendor 0, lower-cased;
    the own identity in any Route-Record, without regard to case; the first Result-Code."""
    assert fast_routing(REQUEST) == ("hss1.localdomain", "second.realm", True)
    assert fast_rc(ANSWER) == 3004
    assert fast_rc(REQUEST) is None


@needs_speedups
@FAST
@given(st.one_of(mutations, length_mutations))
def test_the_compiled_reads_agree_with_the_python_walks_on_mutated_messages(frame: bytes) -> None:
    same(frame)
