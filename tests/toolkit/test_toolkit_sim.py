"""SIM access: status words, T=0 transport handling, file decoders, and a virtual USIM on pcscd + vpcd."""

from __future__ import annotations

import pytest

from sigcore.toolkit.sim import ApduError, Card, CardIOError, explain, files, read_sim

# Known-answer file contents, written out as they sit on a card (TS 31.102 / TS 102 221 examples):
IMSI_FILE = bytes((0x08, 0x09, 0x10, 0x10, 0x10, 0x32, 0x54, 0x76, 0x98))  # IMSI 001010123456789
ICCID_FILE = bytes((0x98, 0x10, 0x99, 0x09, 0x00, 0x21, 0x43, 0x65, 0x87, 0x39))  # 89019990001234567893
ICCID = "89019990001234567893"


@pytest.mark.parametrize(("sw1", "sw2", "words"), [
    (0x90, 0x00, "9000 normal ending"),
    (0x6A, 0x82, "6A82 file or application not found"),
    (0x69, 0x82, "security status not satisfied"),
    (0x61, 0x1E, "30 response bytes available"),
    (0x6C, 0x0A, "resend with Le=10"),
    (0x63, 0xC2, "2 retries left"),
    (0x6A, 0x99, "checking error: wrong parameters (SW2 99 unknown)"),
    (0x12, 0x34, "unknown status word"),
])
def test_status_words_are_explained(sw1: int, sw2: int, words: str) -> None:
    assert words in explain(sw1, sw2)


class ScriptedCard:
    """A transport answering from a script of (expected APDU, response) pairs, recording what was sent."""

    def __init__(self, script: list[tuple[bytes, bytes, int, int]]) -> None:
        self.script = script
        self.sent: list[bytes] = []

    def transmit(self, apdu: list[int]) -> tuple[list[int], int, int]:
        self.sent.append(bytes(apdu))
        expected, data, sw1, sw2 = self.script.pop(0)
        assert bytes(apdu) == expected
        return list(data), sw1, sw2


def test_61xx_is_chased_with_get_response() -> None:
    transport = ScriptedCard([
        (bytes((0x00, 0xA4, 0x00, 0x04, 0x02, 0x2F, 0xE2)), b"", 0x61, 0x04),
        (bytes((0x00, 0xC0, 0x00, 0x00, 0x04)), b"\x62\x02\x80\x00", 0x90, 0x00),
    ])
    assert Card(transport).select_fid(0x2FE2, "EF_ICCID") == b"\x62\x02\x80\x00"
    assert transport.script == []


def test_6cxx_is_resent_with_the_exact_le() -> None:
    transport = ScriptedCard([
        (bytes((0x00, 0xB0, 0x00, 0x00, 0x00)), b"", 0x6C, 0x0A),
        (bytes((0x00, 0xB0, 0x00, 0x00, 0x0A)), ICCID_FILE, 0x90, 0x00),
    ])
    assert Card(transport).read_binary(0, "EF_ICCID") == ICCID_FILE


def test_error_status_word_is_raised_with_its_meaning() -> None:
    transport = ScriptedCard([(bytes((0x00, 0xA4, 0x00, 0x04, 0x02, 0x6F, 0x07)), b"", 0x6A, 0x82)])
    with pytest.raises(ApduError, match=r"SELECT EF_IMSI \(6F07\): 6A82 file or application not found"):
        Card(transport).select_fid(0x6F07, "EF_IMSI")


def test_transport_failure_becomes_card_io_error() -> None:
    class Gone:
        def transmit(self, apdu: list[int]) -> tuple[list[int], int, int]:
            raise RuntimeError("card removed")

    with pytest.raises(CardIOError, match="card removed"):
        Card(Gone()).select_fid(0x3F00, "MF")


def test_iccid_and_luhn() -> None:
    iccid = files.decode_iccid(ICCID_FILE)
    assert iccid == files.Iccid(ICCID, True)
    assert files.luhn_valid("79927398713") and not files.luhn_valid("79927398710")
    assert not files.decode_iccid(ICCID_FILE[:-1] + bytes((0x38,))).luhn_ok
    assert files.decode_iccid(bytes((0x98, 0x10, 0x99, 0x09, 0x00, 0x21, 0x43, 0x65, 0x87, 0xF9))).number == \
        ICCID[:-1]


def test_imsi_file() -> None:
    assert files.decode_imsi(IMSI_FILE + b"\xff") == "001010123456789"
    even = bytes((0x08, 0x01, 0x10, 0x10, 0x10, 0x32, 0x54, 0x76, 0xF8))  # 14 digits: parity even, F filler
    assert files.decode_imsi(even) == "00101012345678"
    with pytest.raises(ValueError, match="parity"):
        files.decode_imsi(bytes((0x08, 0x01)) + IMSI_FILE[2:])
    with pytest.raises(ValueError):
        files.decode_imsi(b"\xff" * 9)


def test_ad_mnc_length() -> None:
    assert files.decode_mnc_length(bytes((0, 0, 0, 2))) == 2
    assert files.decode_mnc_length(bytes((0, 0, 0, 0x13))) == 3
    assert files.decode_mnc_length(bytes((0, 0, 0))) is None


def test_dir_record_and_fcp() -> None:
    aid = files.USIM_AID_PREFIX + bytes((0xFF, 0xFF, 0xFF, 0xFF, 0x89, 0x06, 0x04, 0x00, 0x00))
    record = bytes((0x61, 2 + len(aid) + 6, 0x4F, len(aid))) + aid + bytes((0x50, 4)) + b"USIM" + b"\xff" * 4
    app = files.decode_dir_record(record)
    assert app is not None and app.is_usim and app.label == "USIM" and app.aid == aid
    assert files.decode_dir_record(b"\xff" * 20) is None
    fcp = bytes((0x62, 0x0B, 0x82, 0x05, 0x42, 0x21, 0x00, 0x20, 0x03, 0x80, 0x02, 0x00, 0x60))
    assert files.parse_fcp(fcp) == files.FileInfo(size=0x60, record_length=0x20, record_count=3)


def test_report_survives_a_card_without_usim() -> None:
    transport = ScriptedCard([
        (bytes((0x00, 0xA4, 0x00, 0x04, 0x02, 0x3F, 0x00)), b"", 0x90, 0x00),
        (bytes((0x00, 0xA4, 0x00, 0x04, 0x02, 0x2F, 0xE2)), bytes((0x62, 0x04, 0x80, 0x02, 0x00, 0x0A)), 0x90, 0x00),
        (bytes((0x00, 0xB0, 0x00, 0x00, 0x0A)), ICCID_FILE, 0x90, 0x00),
        (bytes((0x00, 0xA4, 0x00, 0x04, 0x02, 0x3F, 0x00)), b"", 0x90, 0x00),
        (bytes((0x00, 0xA4, 0x00, 0x04, 0x02, 0x2F, 0x00)), b"", 0x6A, 0x82),
    ])
    report = read_sim(Card(transport))
    assert report.iccid == files.Iccid(ICCID, True)
    assert "6A82 file or application not found" in report.errors["EF_DIR"]
    assert report.imsi is None and "USIM" in report.errors
