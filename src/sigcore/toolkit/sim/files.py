"""Decoders for the UICC/USIM files sigcore reads (TS 102 221 §13, TS 31.102 §4.2) and the FCP template.

Pure functions over bytes, so they are tested without a card.
"""

from __future__ import annotations

from dataclasses import dataclass

from sigcore.toolkit import tbcd

FID_MF = 0x3F00
FID_EF_DIR = 0x2F00
FID_EF_ICCID = 0x2FE2
FID_EF_IMSI = 0x6F07
FID_EF_AD = 0x6FAD

USIM_AID_PREFIX = bytes.fromhex("A0000000871002")  # RID of 3GPP + USIM application code (TS 101 220 Annex E)

_TAG_FCP = 0x62
_TAG_FILE_SIZE = 0x80
_TAG_DESCRIPTOR = 0x82
_TAG_APPLICATION_TEMPLATE = 0x61
_TAG_AID = 0x4F
_TAG_LABEL = 0x50
_IMSI_IDENTITY_TYPE = 0b001


def parse_tlv(data: bytes) -> dict[int, bytes]:
    """Top-level BER-TLV objects with one-octet tags (all that FCP and EF_DIR use); first occurrence wins."""
    objects: dict[int, bytes] = {}
    offset = 0
    while offset + 2 <= len(data):
        tag = data[offset]
        if tag in (0x00, 0xFF):  # padding between or after objects
            offset += 1
            continue
        length = data[offset + 1]
        offset += 2
        if length & 0x80:
            size = length & 0x7F
            length = int.from_bytes(data[offset : offset + size], "big")
            offset += size
        objects.setdefault(tag, data[offset : offset + length])
        offset += length
    return objects


@dataclass(frozen=True)
class FileInfo:
    """What the FCP returned by SELECT says about an EF (TS 102 221 §11.1.1.3)."""

    size: int | None = None
    record_length: int | None = None
    record_count: int | None = None


def parse_fcp(response: bytes) -> FileInfo:
    template = parse_tlv(response).get(_TAG_FCP)
    if template is None:
        return FileInfo()
    objects = parse_tlv(template)
    size_field = objects.get(_TAG_FILE_SIZE)
    size = int.from_bytes(size_field, "big") if size_field else None
    descriptor = objects.get(_TAG_DESCRIPTOR, b"")
    if len(descriptor) >= 5:  # FDB, data coding, record length (2), number of records (1, or 2 in ISO)
        return FileInfo(size, int.from_bytes(descriptor[2:4], "big"), int.from_bytes(descriptor[4:], "big"))
    return FileInfo(size)


def luhn_valid(digits: str) -> bool:
    """ISO/IEC 7812 Luhn check over all digits, the last being the check digit."""
    if not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


@dataclass(frozen=True)
class Iccid:
    number: str
    luhn_ok: bool


def decode_iccid(data: bytes) -> Iccid:
    """EF_ICCID (TS 102 221 §13.2): 10 octets of swapped-nibble digits, F-padded; last digit is Luhn."""
    number = tbcd.decode(data.rstrip(b"\xff"))
    return Iccid(number, luhn_valid(number))


def decode_imsi(data: bytes) -> str:
    """EF_IMSI (TS 31.102 §4.2.2): length octet, then digit 1 above a parity/type nibble, then TBCD digits."""
    if not data or data[0] == 0xFF or data[0] == 0 or len(data) < 1 + data[0]:
        raise ValueError(f"EF_IMSI is empty or inconsistent: {data.hex()}")
    digits = tbcd.decode(data[1 : 1 + data[0]])
    type_nibble = int(digits[0])
    if type_nibble & 0b111 != _IMSI_IDENTITY_TYPE:
        raise ValueError(f"EF_IMSI identity type {type_nibble & 0b111} is not IMSI")
    imsi = digits[1:]
    if bool(type_nibble & 0b1000) != bool(len(imsi) % 2):
        raise ValueError(f"EF_IMSI parity bit disagrees with {len(imsi)} digits")
    return imsi


def decode_mnc_length(data: bytes) -> int | None:
    """EF_AD (TS 31.102 §4.2.18) octet 4: number of MNC digits in the IMSI, when the file is long enough."""
    if len(data) < 4:
        return None
    length = data[3] & 0x0F
    return length if length in (2, 3) else None


@dataclass(frozen=True)
class Application:
    aid: bytes
    label: str

    @property
    def is_usim(self) -> bool:
        return self.aid.startswith(USIM_AID_PREFIX)


def decode_dir_record(record: bytes) -> Application | None:
    """One EF_DIR record (TS 102 221 §13.1): application template 61 with AID 4F and optional label 50."""
    template = parse_tlv(record).get(_TAG_APPLICATION_TEMPLATE)
    if template is None:
        return None
    objects = parse_tlv(template)
    aid = objects.get(_TAG_AID)
    if not aid:
        return None
    return Application(aid, objects.get(_TAG_LABEL, b"").decode("utf-8", errors="replace"))
