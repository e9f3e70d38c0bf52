"""Expiry times (`*unlimited`, `*daily`, `*month`, `*month_end+1h`, `+720h`, RFC 3339...) and RFC 3339 output.

Month arithmetic clamps to the month's last day (31 January + one month = 28/29 February), where Go's
``AddDate`` used by CGrateS overflows into March: a balance "for a month" never outlives the next month.
"""

from __future__ import annotations

import calendar
import datetime as dt

from sigcore.charging.values import go_duration_ns

UTC = dt.UTC
NEVER = None
ZERO_TIME = "0001-01-01T00:00:00Z"


class BadTime(ValueError):
    """Unsupported time format; the message is the offending text."""


def add_months(when: dt.datetime, months: int) -> dt.datetime:
    month0 = when.month - 1 + months
    year, month = when.year + month0 // 12, month0 % 12 + 1
    day = min(when.day, calendar.monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day)


def end_of_month(when: dt.datetime) -> dt.datetime:
    last = calendar.monthrange(when.year, when.month)[1]
    return when.replace(day=last, hour=23, minute=59, second=59, microsecond=0)


def _extra(text: str, prefix: str) -> dt.timedelta:
    rest = text[len(prefix):]
    if not rest:
        return dt.timedelta()
    ns = go_duration_ns(rest)
    if ns is None:
        raise BadTime(text)
    return dt.timedelta(microseconds=int(ns / 1000))


def parse_expiry(text: str | None, now: dt.datetime) -> dt.datetime | None:
    """The absolute expiry `text` means at `now`; None = never."""
    text = (text or "").strip()
    if text in ("", "*unlimited", "0", ZERO_TIME):
        return NEVER
    if text == "*now":
        return now
    if text == "*daily":
        return now + dt.timedelta(days=1)
    if text == "*monthly":
        return add_months(now, 1)
    if text == "*yearly":
        return add_months(now, 12)
    if text.startswith("*month_end"):
        return end_of_month(now) + _extra(text, "*month_end")
    if text.startswith("*month"):
        return add_months(now, 1) + _extra(text, "*month")
    if text[0] in "+-":
        ns = go_duration_ns(text)
        if ns is None:
            raise BadTime(text)
        return now + dt.timedelta(microseconds=int(ns / 1000))
    return parse_absolute(text)


def parse_absolute(text: str) -> dt.datetime:
    """RFC 3339 (or ``YYYY-MM-DD HH:MM:SS``, taken as UTC)."""
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadTime(text) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def rfc3339(when: dt.datetime | None) -> str:
    """CGrateS's rendering; the zero time for "never"."""
    if when is None:
        return ZERO_TIME
    text = when.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def from_rfc3339(text: str | None) -> dt.datetime | None:
    if not text or text == ZERO_TIME:
        return None
    return parse_absolute(text)
