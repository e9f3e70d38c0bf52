"""The durable action plan scheduler: an *every_minute plan runs once per minute slot, across restarts and
with two engines on one database; a slot missed while down runs once at start."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import cast

import pytest
from charging_engine import Clock, Engine

from sigcore.charging.engine import ChargingEngine
from sigcore.charging.scheduler import PlanScheduler
from sigcore.charging.timings import Timing
from sigcore.config import ChargingConfig

START = dt.datetime(2026, 3, 1, 12, 0, 30, tzinfo=dt.UTC)
ACCOUNT = {"Tenant": "cgrates.org", "Account": "minutely"}


def at(minute: int, second: int) -> dt.datetime:
    return START.replace(minute=minute, second=second)


@pytest.fixture
def engines(charging_url: str, clock: Clock) -> Iterator[list[Engine]]:
    started: list[Engine] = []
    yield started
    for engine in started:
        engine.close()


def start(engines: list[Engine], url: str, clock: Clock) -> Engine:
    # A long interval: the background loop makes its start-up pass only; the test drives the other passes.
    engine = Engine(url, ChargingConfig(listen="127.0.0.1:0", scheduler_interval=3600), clock)
    engines.append(engine)
    assert engine.charging.scheduler.first_pass_done.wait(10)
    return engine


def runs(engine: Engine) -> int:
    acc = engine.ok("APIerSv2.GetAccount", ACCOUNT)
    return int(sum(b["Value"] for b in acc["BalanceMap"].get("*monetary", [])))


def test_every_minute_once_per_slot_across_restarts(engines: list[Engine], charging_url: str, clock: Clock) -> None:
    clock.fixed = START
    first = start(engines, charging_url, clock)
    first.ok("APIerSv1.SetActions", {"ActionsId": "TICK", "Actions": [
        {"Identifier": "*topup", "BalanceType": "*monetary", "BalanceId": "ticks", "Units": 1, "Weight": 10}]})
    first.ok("APIerSv1.SetActionPlan", {"Id": "EVERY_MINUTE", "ActionPlan": [
        {"ActionsId": "TICK", "Time": "*every_minute", "Weight": 10}]})
    first.ok("APIerSv2.SetAccount", {**ACCOUNT, "ActionPlanIDs": ["EVERY_MINUTE"]})
    scheduler = first.charging.scheduler
    assert scheduler.tick(at(0, 59)) == 0  # attached at 12:00:30: the 12:00 slot is before it
    assert scheduler.tick(at(1, 0)) == 1
    assert scheduler.tick(at(1, 30)) == 0
    assert scheduler.tick(at(2, 5)) == 1
    assert runs(first) == 2

    first.close()
    engines.remove(first)
    clock.fixed = at(2, 40)  # restart within the same minute: the 12:02 slot is claimed already
    second = start(engines, charging_url, clock)
    assert second.charging.scheduler.tick(at(2, 50)) == 0
    assert runs(second) == 2

    second.close()
    engines.remove(second)
    clock.fixed = at(7, 20)  # down from 12:02:50 to 12:07:20: 12:03..12:07 missed, run once at start
    third = start(engines, charging_url, clock)
    assert third.charging.scheduler.tick(at(7, 25)) == 0  # the start-up pass ran it
    assert runs(third) == 3

    other = start(engines, charging_url, clock)  # a second process on the same database
    total = third.charging.scheduler.tick(at(8, 1)) + other.charging.scheduler.tick(at(8, 2))
    assert total == 1
    assert runs(third) == 4
    assert third.charging.engine.store.run_count("EVERY_MINUTE", "cgrates.org", "minutely") == 4


@pytest.mark.parametrize(("time", "after", "expected"), [
    ("*every_minute", "2026-03-01T12:00:30", "2026-03-01T12:01:00"),
    ("*hourly", "2026-03-01T12:00:30", "2026-03-01T13:00:00"),
    ("*daily", "2026-03-01T12:00:30", "2026-03-02T00:00:00"),
    ("*weekly", "2026-03-01T12:00:30", "2026-03-02T00:00:00"),  # 1 March 2026 is a Sunday
    ("*monthly", "2026-03-01T12:00:30", "2026-04-01T00:00:00"),
    ("*month_end", "2026-02-10T00:00:00", "2026-02-28T23:59:59"),
    ("*yearly", "2026-03-01T12:00:30", "2027-01-01T00:00:00"),
    ("08:30:00", "2026-03-01T12:00:30", "2026-03-02T08:30:00"),
])
def test_next_slot(time: str, after: str, expected: str) -> None:
    timing = Timing("u", "A", time)
    got = timing.next_slot(dt.datetime.fromisoformat(after).replace(tzinfo=dt.UTC))
    assert got == dt.datetime.fromisoformat(expected).replace(tzinfo=dt.UTC)


def test_time_with_calendar_lists() -> None:
    # 10:00 on the last day of the month (MonthDays -1), only on Fridays (WeekDays 5), only in 2026
    timing = Timing("u", "A", "10:00:00", years=[2026], month_days=[-1], week_days=[5])
    got = timing.next_slot(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert got == dt.datetime(2026, 7, 31, 10, 0, tzinfo=dt.UTC)  # the first month ending on a Friday
    assert timing.next_slot(dt.datetime(2026, 12, 31, 11, tzinfo=dt.UTC)) is None


async def test_a_scheduler_stopped_during_a_pass_returns_once_the_pass_has_ended() -> None:
    """The pass runs in a thread and writes to the store; ``stop`` used to cancel the task awaiting it and
    return at once, so the charging service went on to close the store under a pass still writing."""
    entered, release = threading.Event(), threading.Event()
    ended: list[bool] = []

    class SlowPass(PlanScheduler):
        def tick(self, now: dt.datetime | None = None) -> int:
            entered.set()
            release.wait(10)
            ended.append(True)
            return 0

    scheduler = SlowPass(cast(ChargingEngine, SimpleNamespace(store=None)), interval=3600)
    scheduler.start()
    await asyncio.get_running_loop().run_in_executor(None, entered.wait, 10)
    stopping = asyncio.ensure_future(scheduler.stop())
    await asyncio.sleep(0.1)
    assert not stopping.done() and not ended
    release.set()
    await stopping
    assert ended == [True]
