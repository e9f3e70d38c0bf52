"""`RateLimitedLog`: a burst per kind per interval, then a count of what was suppressed."""

from __future__ import annotations

import logging

import pytest

from sigcore.log_limit import RateLimitedLog


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records]


def test_burst_then_suppressed_then_counted(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    limited = RateLimitedLog(logging.getLogger("t.limit"), interval=10, burst=2, clock=clock)
    with caplog.at_level(logging.WARNING, "t.limit"):
        logged = [limited.warning("clr", "CLR %d not delivered", i) for i in range(1000)]
        assert logged[:2] == [True, True] and not any(logged[2:])
        assert limited.suppressed("clr") == 998
        assert limited.warning("other", "another kind is not limited by the first")
        clock.now += 10
        assert limited.warning("clr", "CLR %d not delivered", 1000)
    assert _messages(caplog) == ["CLR 0 not delivered", "CLR 1 not delivered",
                                 "another kind is not limited by the first",
                                 "CLR 1000 not delivered (998 more 'clr' lines suppressed)"]
    assert limited.suppressed("clr") == 0


def test_flush_reports_what_no_later_line_did(caplog: pytest.LogCaptureFixture) -> None:
    limited = RateLimitedLog(logging.getLogger("t.flush"), interval=5, burst=1, clock=FakeClock())
    with caplog.at_level(logging.INFO, "t.flush"):
        limited.error("x", "first")
        limited.info("x", "second")
        limited.info("x", "third")
        limited.flush()
        limited.flush()  # nothing more pending: no second summary
    assert _messages(caplog) == ["first", "2 'x' lines suppressed in the last 5 s"]
    assert caplog.records[-1].levelno == logging.INFO


def test_a_disabled_level_is_neither_logged_nor_counted(caplog: pytest.LogCaptureFixture) -> None:
    limited = RateLimitedLog(logging.getLogger("t.off"), burst=1)
    with caplog.at_level(logging.ERROR, "t.off"):
        assert not limited.warning("w", "hidden")
    assert limited.suppressed("w") == 0 and not caplog.records


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        RateLimitedLog(logging.getLogger("t"), interval=0)
    with pytest.raises(ValueError):
        RateLimitedLog(logging.getLogger("t"), burst=0)
