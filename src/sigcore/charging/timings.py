"""Action plan timings: when a plan's actions run (``*asap``, ``*every_minute``, ``hh:mm:ss`` with
Years/Months/MonthDays/WeekDays, ``*daily``...). All in UTC; a slot is the instant a run is due.

The calendar shorthands run at fixed instants: ``*hourly`` at minute 0, ``*daily`` at 00:00:00,
``*weekly`` on Mondays 00:00:00, ``*monthly`` on the 1st 00:00:00, ``*month_end`` on the month's last day
23:59:59, ``*yearly`` on 1 January 00:00:00.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from sigcore.charging.values import split_list

_HMS = re.compile(r"^(\d{1,2}):(\d{1,2}):(\d{1,2})$")
SHORTHANDS = {"*every_minute", "*hourly", "*daily", "*weekly", "*monthly", "*month_end", "*yearly"}
MAX_DAYS_AHEAD = 366 * 8  # a Years/Months/MonthDays/WeekDays combination matches within 8 years or never


class BadTiming(ValueError):
    """UNSUPPORTED_FORMAT: the message is the offending Time."""


@dataclass
class Timing:
    uuid: str
    actions_id: str
    time: str
    weight: float = 0.0
    years: list[int] = field(default_factory=list)
    months: list[int] = field(default_factory=list)
    month_days: list[int] = field(default_factory=list)
    week_days: list[int] = field(default_factory=list)  # 0 = Sunday, as Go's time.Weekday

    def to_doc(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Timing:
        return cls(**doc)

    def check(self) -> None:
        if self.time != "*asap" and self.time not in SHORTHANDS and not _HMS.match(self.time):
            raise BadTiming(self.time)

    def _day_ok(self, day: dt.date) -> bool:
        last = calendar.monthrange(day.year, day.month)[1]
        return ((not self.years or day.year in self.years or day.year % 100 in self.years)
                and (not self.months or day.month in self.months)
                and (not self.month_days or day.day in self.month_days
                     or (day.day - last - 1) in self.month_days)
                and (not self.week_days or (day.isoweekday() % 7) in self.week_days))

    def next_slot(self, after: dt.datetime) -> dt.datetime | None:
        """The first slot strictly after `after` (None for *asap or when the lists never match)."""
        after = after.astimezone(dt.UTC)
        if self.time == "*asap":
            return None
        if self.time == "*every_minute":
            return after.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        if self.time == "*hourly":
            return after.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
        time_of_day, extra = self._daily_rule()
        day = after.date()
        for _ in range(MAX_DAYS_AHEAD):
            if self._day_ok(day) and extra(day):
                when = dt.datetime.combine(day, time_of_day, dt.UTC)
                if when > after:
                    return when
            day += dt.timedelta(days=1)
        return None

    def latest_slot(self, upto: dt.datetime, since: dt.datetime) -> dt.datetime | None:
        """The last slot in (since, upto]: the one run due now, or missed while down (run once)."""
        slot = self.next_slot(since)
        if slot is None or slot > upto:
            return None
        if self.time == "*every_minute":
            return upto.astimezone(dt.UTC).replace(second=0, microsecond=0)
        if self.time == "*hourly":
            return upto.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
        while True:
            following = self.next_slot(slot)
            if following is None or following > upto:
                return slot
            slot = following

    def _daily_rule(self) -> tuple[dt.time, Any]:
        def always(_day: dt.date) -> bool:
            return True

        if self.time == "*daily":
            return dt.time(0, 0, 0), always
        if self.time == "*weekly":
            return dt.time(0, 0, 0), lambda day: day.isoweekday() == 1
        if self.time == "*monthly":
            return dt.time(0, 0, 0), lambda day: day.day == 1
        if self.time == "*yearly":
            return dt.time(0, 0, 0), lambda day: day.month == 1 and day.day == 1
        if self.time == "*month_end":
            return dt.time(23, 59, 59), lambda day: day.day == calendar.monthrange(day.year, day.month)[1]
        match = _HMS.match(self.time)
        if match is None:
            raise BadTiming(self.time)
        hour, minute, second = (int(g) for g in match.groups())
        return dt.time(hour, minute, second), always


def _ints(value: Any) -> list[int]:
    try:
        return [int(v) for v in split_list(value)]
    except ValueError:
        raise BadTiming(str(value)) from None


def parse_timing(uuid: str, data: dict[str, Any], get: Any) -> Timing:
    """One ``ActionPlan`` entry of SetActionPlan (`get` reads a key case-insensitively)."""
    timing = Timing(
        uuid=uuid, actions_id=str(get(data, "ActionsId") or ""), time=str(get(data, "Time") or "").strip(),
        weight=float(get(data, "Weight") or 0), years=_ints(get(data, "Years")), months=_ints(get(data, "Months")),
        month_days=_ints(get(data, "MonthDays")), week_days=_ints(get(data, "WeekDays")),
    )
    timing.check()
    return timing
