"""Property tests on the decoder: whatever bytes arrive, decoding, validation and value access raise
only the codec's typed errors, and an error answer can always be built for them.

The contract checked for every input:
- ``Message.decode`` succeeds or raises DecodeError;
- ``Dictionary.validate`` succeeds or raises DiameterError, with the same verdict whether it checks the
  received bytes or the re-encoded AVPs;
- reading any AVP's value raises only DecodeError or ValueError (the decoders' documented errors), and
  nothing at all once the message validated;
- the error answer for a refused request encodes and decodes;
- the eager ``Dictionary.items`` gives the same values as reading every AVP one by one, and refuses
  exactly the frames where one of those reads fails (or the lazy decode does).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest
from frames import avp_offsets, ccr_with_mscc, cer_message, nested_unknown, with_message_length
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rawpeer import ccr

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.answers import Identity, error_answer
from sigcore.diameter.avp import Avp
from sigcore.diameter.capabilities import make_dpr, make_dwr
from sigcore.diameter.constants import DisconnectCause
from sigcore.diameter.errors import DecodeError, DiameterError
from sigcore.diameter.message import Message

IDENTITY = Identity("fuzz.localdomain", "localdomain")


def seed_frames() -> list[bytes]:
    unknown = ccr(hbh=5)
    unknown.avps.append(nested_unknown(5))
    return [
        cer_message().encode(),
        ccr(hbh=2).encode(),
        ccr_with_mscc().encode(),
        unknown.encode(),
        make_dwr(IDENTITY).encode(),
        make_dpr(IDENTITY, DisconnectCause.BUSY).encode(),
    ]


SEEDS = seed_frames()
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def walk(avps: list[Avp]) -> Iterator[Avp]:
    """Every AVP, descending into the ones the dictionary knows as Grouped."""
    for a in avps:
        yield a
        d = D.avps.get(a.key)
        if d is not None and d.type == "Grouped":
            yield from walk(a.children())


def refusal(msg: Message) -> DiameterError | None:
    try:
        D.validate(msg)
    except DiameterError as err:
        assert not isinstance(err, DecodeError) or err.result_code == 5014
        return err
    return None


def verdict(msg: Message) -> int | None:
    err = refusal(msg)
    return None if err is None else err.result_code


def reference_items(avps: list[Avp]) -> list[object]:
    """What ``Dictionary.items`` must return, computed one AVP at a time through the lazy API."""
    out: list[object] = []
    for a in avps:
        d = D.avps.get(a.key)
        if d is None:
            out.append(a)
        elif d.type == "Grouped":
            out.append((d.name, reference_items(a.children())))
        else:
            out.append((d.name, D.value(a)))
    return out


def check_items(frame: bytes, msg: Message | None) -> None:
    try:
        expected = None if msg is None else reference_items(msg.avps)
    except (DecodeError, ValueError):
        expected = None
    try:
        got = D.items(frame)
    except DiameterError:
        assert expected is None, "items refused a frame whose every value reads"
        return
    assert got == expected


def check_decode_checked(frame: bytes, msg: Message | None) -> None:
    """The one-walk decode and check (what a node runs on every frame) agrees with Message.decode and then
    validate: the same DecodeError cases, the same AVPs, the same verdict and Failed-AVP."""
    try:
        fused = D.decode_checked(frame)
    except DecodeError:
        assert msg is None, "decode_checked refused a frame Message.decode takes"
        return
    assert msg is not None, "decode_checked took a frame Message.decode refuses"
    assert [(a.code, a.flags, a.vendor, bytes(a.data)) for a in fused.avps] == \
        [(a.code, a.flags, a.vendor, bytes(a.data)) for a in msg.avps]
    expected, got = refusal(Message.decode(frame)), refusal(fused)
    assert (got and (got.result_code, [a.to_bytes() for a in got.failed_avps])) == \
        (expected and (expected.result_code, [a.to_bytes() for a in expected.failed_avps]))


def exercise(frame: bytes) -> None:
    try:
        msg = Message.decode(frame)
    except DecodeError as err:
        check_decode_checked(frame, None)
        check_items(frame, None)
        if err.header is not None and err.header.is_request:
            Message.decode(error_answer(err.header, IDENTITY, err).encode())
        return
    check_decode_checked(frame, msg)
    check_items(frame, msg)
    result = verdict(msg)
    rebuilt = Message(msg.code, msg.app_id, msg.flags, msg.hop_by_hop, msg.end_to_end, list(msg.avps))
    assert verdict(rebuilt) == result  # received bytes and built AVPs are judged alike
    known_command = D.command(msg.app_id, msg.code, msg.is_request) is not None
    try:
        for avp in walk(msg.avps):
            D.value(avp)
    except (DecodeError, ValueError):
        assert result is not None or not known_command, "a validated message has an unreadable value"
    refused = refusal(msg)
    if refused is not None and msg.is_request:
        Message.decode(error_answer(msg, IDENTITY, refused).encode())


def mutate(frame: bytes, edits: list[tuple[int, int]], cut: int, extra: bytes, fix_length: bool) -> bytes:
    out = bytearray(frame)
    for pos, value in edits:
        out[pos % len(out)] = value
    out = out[:len(out) - cut % len(out)] + extra
    if fix_length and len(out) >= 4:  # keep the header honest so the AVP parser is reached
        out = bytearray(with_message_length(bytes(out), len(out)))
        out[0] = 1
    return bytes(out)


mutations = st.builds(
    mutate,
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=6),
    st.one_of(st.just(0), st.integers(0, 64)),
    st.binary(max_size=24),
    st.booleans(),
)


def length_mutation(frame: bytes, which: int, length: int) -> bytes:
    """One AVP length field replaced: the fault decoders most often get wrong."""
    offsets = avp_offsets(frame)
    off = offsets[which % len(offsets)]
    return frame[:off + 5] + length.to_bytes(3, "big") + frame[off + 8:]


length_mutations = st.builds(length_mutation, st.sampled_from(SEEDS), st.integers(0, 40),
                             st.one_of(st.integers(0, 40), st.integers(0, 0xFFFFFF)))


def framed(body: bytes, flags: int, code: int, app: int) -> bytes:
    body = body[:len(body) & ~3]
    return struct.pack(">IIIII", (1 << 24) | (20 + len(body)), (flags << 24) | code, app, 1, 2) + body


random_frames = st.one_of(
    st.binary(max_size=120),
    st.builds(framed, st.binary(max_size=200), st.sampled_from([0x80, 0xC0, 0x00, 0xA0]),
              st.sampled_from([257, 272, 280, 282, 316, 12345]), st.sampled_from([0, 4, 16777251])),
)


@FAST
@given(random_frames)
def test_random_bytes_raise_only_typed_errors(frame: bytes) -> None:
    exercise(frame)


@FAST
@given(mutations)
def test_mutated_frames_raise_only_typed_errors(frame: bytes) -> None:
    exercise(frame)


@FAST
@given(length_mutations)
def test_avp_length_mutations_raise_only_typed_errors(frame: bytes) -> None:
    exercise(frame)


@pytest.mark.parametrize("frame", SEEDS, ids=["cer", "ccr", "ccr-mscc", "ccr-unknown", "dwr", "dpr"])
def test_seeds_are_valid_and_round_trip(frame: bytes) -> None:
    msg = Message.decode(frame)
    assert msg.encode() == frame
    assert verdict(msg) is None
    exercise(frame)


@FAST
@given(st.lists(st.tuples(st.integers(1, 5000), st.binary(max_size=13), st.sampled_from([0, 0x40, 0x20]),
                          st.sampled_from([0, 10415, 99999])), max_size=8),
       st.integers(0, 5))
def test_encode_of_decode_is_identity_for_valid_frames(avps: list[tuple[int, bytes, int, int]], depth: int) -> None:
    items = [Avp(code, data, flags, vendor) for code, data, flags, vendor in avps]
    if depth:
        items.append(nested_unknown(depth, leaf=b"x" * depth))
    wire = Message(272, 4, 0xC0, 7, 8, items).encode()
    msg = Message.decode(wire)
    assert msg.encode() == wire
    assert msg.avps == items


@pytest.mark.slow
@settings(max_examples=20_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(mutations, length_mutations, random_frames))
def test_many_mutated_frames_raise_only_typed_errors(frame: bytes) -> None:
    exercise(frame)
