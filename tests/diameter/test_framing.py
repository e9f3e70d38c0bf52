"""Stream framing by the header's length field: reassembly across reads, several messages per read,
and lengths that make the stream unrecoverable."""

from __future__ import annotations

import pytest
from frames import ccr_with_mscc, cer_message, with_message_length
from hypothesis import given
from hypothesis import strategies as st
from rawpeer import ccr

from sigcore.diameter.framing import Framer, FramingError
from sigcore.diameter.message import Message


def stream() -> list[bytes]:
    return [cer_message().encode(), ccr(hbh=2).encode(), ccr_with_mscc().encode()]


def test_one_message_split_at_every_byte_boundary() -> None:
    wire = cer_message().encode()
    for cut in range(1, len(wire)):
        framer = Framer()
        assert framer.feed(wire[:cut]) == []
        assert framer.buffered == cut
        assert framer.feed(wire[cut:]) == [wire]
        assert framer.buffered == 0


def test_byte_by_byte_stream_yields_each_message_once_in_order() -> None:
    messages = stream()
    framer = Framer()
    out: list[bytes] = []
    for byte in b"".join(messages):
        out.extend(framer.feed(bytes([byte])))
    assert out == messages


def test_several_messages_and_a_partial_one_in_one_read() -> None:
    messages = stream()
    data = b"".join(messages)
    framer = Framer()
    assert framer.feed(data + messages[0][:7]) == messages
    assert framer.buffered == 7
    assert framer.feed(messages[0][7:]) == [messages[0]]


@pytest.mark.parametrize("length", [0, 1, 19])
def test_length_below_a_header_is_a_framing_error(length: int) -> None:
    bad = with_message_length(ccr().encode(), length)
    framer = Framer()
    good = cer_message().encode()
    assert framer.feed(good) == [good]
    with pytest.raises(FramingError) as info:
        framer.feed(bad)
    assert info.value.header == bad[:20]  # enough to answer 5015 to a request
    assert framer.buffered == 0


def test_length_above_the_maximum_is_a_framing_error() -> None:
    wire = ccr().encode()
    framer = Framer(max_len=len(wire))
    assert framer.feed(wire) == [wire]
    with pytest.raises(FramingError):
        framer.feed(with_message_length(wire, len(wire) + 4))


def test_framing_error_is_raised_as_soon_as_the_header_is_complete() -> None:
    bad = with_message_length(ccr().encode(), 0xFFFFFF)
    framer = Framer()
    assert framer.feed(bad[:19]) == []
    with pytest.raises(FramingError):
        framer.feed(bad[19:20])


def test_framed_messages_decode() -> None:
    framer = Framer()
    decoded = [Message.decode(f) for f in framer.feed(b"".join(stream()))]
    assert [m.code for m in decoded] == [257, 272, 272]


@given(st.lists(st.integers(1, 400), max_size=12), st.integers(1, 6))
def test_any_split_of_a_stream_into_reads_yields_each_message_once_in_order(cuts: list[int], copies: int) -> None:
    """Reads that end on a boundary take the no-buffer path, the others the buffer: same messages."""
    messages = stream() * copies
    wire = b"".join(messages)
    framer = Framer()
    out: list[bytes] = []
    at = 0
    for cut in [*cuts, len(wire)]:
        out.extend(framer.feed(wire[at:at + cut]))
        at += cut
    if at < len(wire):
        out.extend(framer.feed(wire[at:]))
    assert out == messages and framer.buffered == 0
