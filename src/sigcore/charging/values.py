"""Exact numbers and CGrateS's loose value forms: money and units are `Decimal`, never binary floats."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

ZERO = Decimal(0)
_GO_DURATION = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)")
_NS_PER = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


class BadValue(ValueError):
    """A value that is neither a number nor a Go duration; the message is the offending text."""


def go_duration_ns(text: str) -> Decimal | None:
    """``"1h30m"``, ``"10s"``, ``"-2m"`` as nanoseconds (Go's time.ParseDuration); None if not a duration."""
    text = text.strip()
    sign = 1
    if text[:1] in "+-":
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if not text:
        return None
    pos, total = 0, Decimal(0)
    for match in _GO_DURATION.finditer(text):
        if match.start() != pos:
            return None
        total += Decimal(match.group(1)) * _NS_PER[match.group(2)]
        pos = match.end()
    if pos != len(text):
        return None
    return total * sign


def _finite(number: Decimal, given: Any) -> Decimal:
    """NaN and infinities are no amount: stored, they would poison every total and comparison."""
    if not number.is_finite():
        raise BadValue(str(given))
    return number


def to_decimal(value: Any, *, durations: bool = True) -> Decimal:
    """A JSON number, a numeric string or (for *voice units, as CGrateS v2) a Go duration in nanoseconds."""
    if value is None or value == "":
        return ZERO
    if isinstance(value, bool):
        raise BadValue(str(value))
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return _finite(Decimal(repr(value)), value)  # the shortest text that reads back as 1.1 stays 1.1
    if isinstance(value, Decimal):
        return _finite(value, value)
    text = str(value).strip()
    try:
        return _finite(Decimal(text), text)
    except InvalidOperation:
        pass
    if durations:
        ns = go_duration_ns(text)
        if ns is not None:
            return ns
    raise BadValue(text)


def as_json_number(value: Decimal) -> int | float:
    """The wire form: integral values as JSON integers, others as the nearest double (what a JSON client
    reads anyway). Stored and computed values stay exact."""
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def to_bool(value: Any) -> bool:
    """CGrateS accepts booleans as JSON booleans or as the strings "true"/"false"."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def split_list(value: Any) -> list[str]:
    """A `;`-separated CGrateS list (or a JSON list), without empty items and ``*any``."""
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(";")
    return [str(i).strip() for i in items if str(i).strip() and str(i).strip() != "*any"]


def string_set(value: Any) -> dict[str, bool]:
    """CGrateS's StringMap: ``"a;!b"`` → ``{"a": True, "b": False}`` (the ``!`` excludes)."""
    if isinstance(value, dict):
        return {str(k): bool(v) for k, v in value.items()}
    return {item.lstrip("!"): not item.startswith("!") for item in split_list(value)}
