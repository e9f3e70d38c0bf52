"""Field checks shared by the repository parts. Each error names the field, never a secret's value."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from enum import StrEnum
from typing import TypeVar

from sigcore.store.errors import InvalidValue

E = TypeVar("E", bound=StrEnum)

SQN_MAX = (1 << 48) - 1
#: The largest AMBR the wire carries, bit/s: above 2^32-1 a rate goes in Extended-Max-Requested-BW-*
#: (TS 29.272 §7.3.41, TS 29.214), Unsigned32 in kbit/s. A larger stored rate breaks every ULR that sends it.
BITRATE_MAX = 2**32 * 1000 - 1
KEY_BYTES = 16


def digits(field: str, value: str, low: int, high: int) -> str:
    if not (value.isascii() and value.isdigit() and low <= len(value) <= high):
        raise InvalidValue(f"{field}: expected {low}-{high} decimal digits")
    return value


def imsi(value: str) -> str:
    return digits("imsi", value, 6, 15)


def optional_digits(field: str, value: str | None, low: int, high: int) -> str | None:
    return None if value in (None, "") else digits(field, value, low, high)


def key(field: str, value: bytes | str) -> bytes:
    """A 128-bit key given as bytes or hex; the message never repeats the value."""
    if isinstance(value, str):
        try:
            value = bytes.fromhex(value)
        except ValueError:
            raise InvalidValue(f"{field}: not hexadecimal") from None
    if len(value) != KEY_BYTES:
        raise InvalidValue(f"{field}: expected {KEY_BYTES} bytes ({KEY_BYTES * 2} hex digits)")
    return bytes(value)


def int_range(field: str, value: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidValue(f"{field}: expected an integer from {low} to {high}")
    return value


def sqn(value: int) -> int:
    return int_range("sqn", value, 0, SQN_MAX)


def amf(value: int) -> int:
    return int_range("amf", value, 0, 0xFFFF)


def choice(field: str, enum: type[E], value: str) -> E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise InvalidValue(f"{field}: expected one of {allowed}") from None


def ip(field: str, value: str | None, version: int) -> str | None:
    if value in (None, ""):
        return None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise InvalidValue(f"{field}: not an IP address") from None
    if address.version != version:
        raise InvalidValue(f"{field}: expected an IPv{version} address")
    return str(address)


def hex_digits(field: str, value: str | None, length: int) -> str | None:
    if value in (None, ""):
        return None
    assert value is not None
    try:
        bytes.fromhex(value)
    except ValueError:
        raise InvalidValue(f"{field}: expected {length} hex digits") from None
    if len(value) != length:
        raise InvalidValue(f"{field}: expected {length} hex digits")
    return value.upper()


def apn_name(value: str) -> str:
    """A name to look a profile up by: loose, so that a profile stored before `new_apn_name` stays reachable."""
    name = value.strip()
    if not name or len(name) > 100 or any(c.isspace() for c in name):
        raise InvalidValue("apn: a name of 1-100 characters without spaces")
    return name


def apn_names(values: Iterable[str]) -> tuple[str, ...]:
    """An APN list: each name as `apn_name`, none twice in any case ("Internet" is "internet" again)."""
    seen: dict[str, str] = {}
    for name in map(apn_name, values):
        if name.lower() in seen:
            first = seen[name.lower()]
            raise InvalidValue(f"apns: an APN is listed twice ({first!r}"
                               + ("" if first == name else f" and {name!r}") + ")")
        seen[name.lower()] = name
    return tuple(seen.values())


_APN_LABEL = re.compile(r"[A-Za-z0-9-]{1,63}")


def new_apn_name(value: str) -> str:
    """The name of a new profile, an APN Network Identifier (TS 23.003 §9.1): dot-separated labels of
    letters, digits and hyphens, each at most 63 characters, at most 100 octets encoded (a length octet
    per label). Kept as spelled: lookups ignore case, and MMEs compare APNs without case as the spec says."""
    name = apn_name(value)
    labels = name.split(".")
    if not all(_APN_LABEL.fullmatch(label) for label in labels) or len(name) + 1 > 100:
        raise InvalidValue(f"apn: {name!r} is not an APN name (dot-separated labels of letters, digits and "
                           "hyphens, each at most 63 characters, at most 99 in all; TS 23.003 §9.1)")
    return name


def fqdn(field: str, value: str) -> str:
    """A DiameterIdentity: an FQDN of at least two labels."""
    from sigcore.config_checks import diameter_identity

    try:
        diameter_identity(value)
    except ValueError:
        raise InvalidValue(f"{field}: expected a DiameterIdentity (an FQDN such as 'pgw1.epc.example.org')") from None
    if "." not in value.strip("."):
        raise InvalidValue(f"{field}: expected a DiameterIdentity (an FQDN such as 'pgw1.epc.example.org')")
    return value


def plmn(value: str) -> str:
    return digits("plmn", value, 5, 6)
