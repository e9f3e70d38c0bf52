"""TBCD and PLMN codecs: the seed's worked examples, the spec's special digits, round-trip properties."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sigcore.toolkit import plmn, tbcd

tbcd_digits = st.text(alphabet=tbcd.ALPHABET, max_size=40)
decimal = st.text(alphabet="0123456789", min_size=1)


@pytest.mark.parametrize(("digits", "encoded"), [
    ("123456", bytes((0x21, 0x43, 0x65))),
    ("789", bytes((0x87, 0xF9))),
    ("123", bytes((0x21, 0xF3))),
    ("19", bytes((0x91,))),
    ("82", bytes((0x28,))),
    ("*21", bytes((0x2A, 0xF1))),
    ("#", bytes((0xFB,))),
    ("abc", bytes((0xDC, 0xFE))),
    ("", b""),
])
def test_tbcd_known_answers(digits: str, encoded: bytes) -> None:
    assert tbcd.encode(digits) == encoded
    assert tbcd.decode(encoded) == digits


def test_tbcd_c_is_1110_not_the_seeds_1100() -> None:
    assert tbcd.encode("c0")[0] & 0x0F == 0b1110
    assert tbcd.encode("c") != tbcd.encode("a")


@given(tbcd_digits)
def test_tbcd_round_trip(digits: str) -> None:
    encoded = tbcd.encode(digits)
    assert len(encoded) == (len(digits) + 1) // 2
    assert tbcd.decode(encoded) == digits


@pytest.mark.parametrize("bad", ["12d", "1 2", "+44", "\u0661"])
def test_tbcd_rejects_and_names_the_character(bad: str) -> None:
    culprit = next(c for c in bad if c.lower() not in tbcd.ALPHABET)
    with pytest.raises(ValueError, match=re.escape(repr(culprit))):
        tbcd.encode(bad)


def test_tbcd_decode_rejects_filler_in_the_middle() -> None:
    with pytest.raises(ValueError, match="filler"):
        tbcd.decode(bytes((0xF1, 0x32)))


@pytest.mark.parametrize(("mcc", "mnc", "encoded"), [
    ("001", "01", bytes((0x00, 0xF1, 0x10))),
    ("505", "93", bytes((0x05, 0xF5, 0x39))),
    ("310", "410", bytes((0x13, 0x00, 0x14))),
    ("262", "01", bytes((0x62, 0xF2, 0x10))),
])
def test_plmn_known_answers(mcc: str, mnc: str, encoded: bytes) -> None:
    assert plmn.encode(mcc, mnc) == encoded
    assert plmn.decode(encoded) == (mcc, mnc)


@given(st.text("0123456789", min_size=3, max_size=3), st.text("0123456789", min_size=2, max_size=3))
def test_plmn_round_trip(mcc: str, mnc: str) -> None:
    assert plmn.decode(plmn.encode(mcc, mnc)) == (mcc, mnc)


@pytest.mark.parametrize(("mcc", "mnc"), [("01", "01"), ("0011", "01"), ("001", "1"), ("00a", "01")])
def test_plmn_rejects_bad_lengths_and_digits(mcc: str, mnc: str) -> None:
    with pytest.raises(ValueError):
        plmn.encode(mcc, mnc)


def test_plmn_decode_rejects_wrong_size_and_hex_digits() -> None:
    with pytest.raises(ValueError):
        plmn.decode(b"\x00\xf1")
    with pytest.raises(ValueError):
        plmn.decode(bytes((0x0A, 0xF1, 0x10)))


def test_split_imsi() -> None:
    assert plmn.split_imsi("001010123456789", 2) == ("001", "01", "0123456789")
    assert plmn.split_imsi("310410123456789", 3) == ("310", "410", "123456789")
    assert plmn.imsi_plmn("310410123456789", 3) == bytes((0x13, 0x00, 0x14))
    with pytest.raises(ValueError):
        plmn.split_imsi("00101", 2)
    with pytest.raises(ValueError):
        plmn.split_imsi("001010123456789", 4)


@given(st.text("0123456789", min_size=6, max_size=15), st.sampled_from([2, 3]))
def test_split_imsi_reassembles(imsi: str, mnc_len: int) -> None:
    parts = plmn.split_imsi(imsi, mnc_len)
    assert "".join(parts) == imsi
    assert len(parts.mnc) == mnc_len
