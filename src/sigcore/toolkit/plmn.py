"""PLMN identity (TS 24.008 §10.5.1.3, as used by S6a Visited-PLMN-Id) and IMSI splitting (TS 23.003 §2.2).

Three octets: MCC digit 2|1, MNC digit 3|MCC digit 3, MNC digit 2|1 (high|low nibble); a 2-digit MNC puts
the F filler where MNC digit 3 would be.
"""

from __future__ import annotations

from typing import NamedTuple

_FILLER = 0xF


class ImsiParts(NamedTuple):
    mcc: str
    mnc: str
    msin: str


def _digits(value: str, name: str, lengths: tuple[int, ...]) -> list[int]:
    if not value.isascii() or not value.isdigit() or len(value) not in lengths:
        allowed = " or ".join(str(n) for n in lengths)
        raise ValueError(f"{name} must be {allowed} decimal digits, got {value!r}")
    return [int(c) for c in value]


def encode(mcc: str, mnc: str) -> bytes:
    """Encode MCC (3 digits) and MNC (2 or 3 digits) into the 3-octet PLMN identity."""
    m = _digits(mcc, "MCC", (3,))
    n = _digits(mnc, "MNC", (2, 3))
    mnc3 = n[2] if len(n) == 3 else _FILLER
    return bytes((m[1] << 4 | m[0], mnc3 << 4 | m[2], n[1] << 4 | n[0]))


def decode(data: bytes) -> tuple[str, str]:
    """Decode 3 octets into ``(mcc, mnc)``; the MNC has 2 digits when its third nibble is the F filler."""
    if len(data) != 3:
        raise ValueError(f"PLMN identity is 3 octets, got {len(data)}")
    nibbles = [data[0] & 0xF, data[0] >> 4, data[1] & 0xF, data[2] & 0xF, data[2] >> 4, data[1] >> 4]
    if any(n > 9 for n in nibbles[:5]) or (nibbles[5] > 9 and nibbles[5] != _FILLER):
        raise ValueError(f"PLMN identity {data.hex()} has non-decimal digits")
    mcc = "".join(str(n) for n in nibbles[:3])
    mnc = "".join(str(n) for n in nibbles[3:] if n != _FILLER)
    return mcc, mnc


def split_imsi(imsi: str, mnc_len: int) -> ImsiParts:
    """Split an IMSI into MCC, MNC and MSIN; the MNC length (2 or 3) is not derivable from the IMSI alone
    (it comes from EF_AD on the card or from the operator's configuration)."""
    if mnc_len not in (2, 3):
        raise ValueError(f"MNC length must be 2 or 3, got {mnc_len}")
    if not imsi.isascii() or not imsi.isdigit() or not 6 <= len(imsi) <= 15:
        raise ValueError(f"IMSI must be 6 to 15 decimal digits, got {imsi!r}")
    return ImsiParts(imsi[:3], imsi[3 : 3 + mnc_len], imsi[3 + mnc_len :])


def imsi_plmn(imsi: str, mnc_len: int) -> bytes:
    """The encoded home PLMN identity of an IMSI (what S6a puts in Visited-PLMN-Id for a home subscriber)."""
    parts = split_imsi(imsi, mnc_len)
    return encode(parts.mcc, parts.mnc)
