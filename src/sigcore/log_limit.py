"""Rate-limited log lines: under load one cause can repeat thousands of times a second (an undelivered CLR
per attach when the old MMEs are gone, a flood of malformed requests); the log must stay readable and cheap.

``RateLimitedLog(log)`` lets through at most ``burst`` lines of one *kind* (a short string the caller
chooses, e.g. ``"clr-undelivered"``) per ``interval`` seconds and counts the rest. The first line let
through after a suppression says how many lines of that kind were dropped, so nothing is silently lost::

    limited = RateLimitedLog(log)
    limited.warning("clr-undelivered", "CLR for IMSI %s to %s not delivered: %s", imsi, host, reason)

``flush()`` logs the pending counts (for a clean stop). A suppressed line costs a dict lookup and a clock
read; the message is never formatted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_INTERVAL = 10.0
DEFAULT_BURST = 5


@dataclass(slots=True)
class _Window:
    start: float
    passed: int = 0
    suppressed: int = 0
    level: int = logging.NOTSET  # the highest level suppressed since the last report


class RateLimitedLog:
    """At most `burst` lines per kind per `interval` seconds on `log`, with a count of the suppressed ones."""

    def __init__(self, log: logging.Logger, interval: float = DEFAULT_INTERVAL, burst: int = DEFAULT_BURST,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if interval <= 0 or burst < 1:
            raise ValueError("interval must be > 0 and burst >= 1")
        self.log, self.interval, self.burst, self._clock = log, interval, burst, clock
        self._windows: dict[str, _Window] = {}

    def warning(self, kind: str, msg: str, *args: object) -> bool:
        return self.emit(logging.WARNING, kind, msg, *args)

    def error(self, kind: str, msg: str, *args: object) -> bool:
        return self.emit(logging.ERROR, kind, msg, *args)

    def info(self, kind: str, msg: str, *args: object) -> bool:
        return self.emit(logging.INFO, kind, msg, *args)

    def emit(self, level: int, kind: str, msg: str, *args: object) -> bool:
        """Log `msg % args` at `level` unless `kind` used up its burst in this window; True if logged."""
        if not self.log.isEnabledFor(level):
            return False
        now = self._clock()
        window = self._windows.get(kind)
        if window is None:
            window = self._windows[kind] = _Window(now)
        elif now - window.start >= self.interval:
            window.start, window.passed = now, 0
        if window.passed >= self.burst:
            window.suppressed += 1
            window.level = max(window.level, level)
            return False
        window.passed += 1
        if window.suppressed:
            msg = msg + " (%d more %r lines suppressed)"
            args = (*args, window.suppressed, kind)
            window.suppressed, window.level = 0, logging.NOTSET
        self.log.log(level, msg, *args)
        return True

    def suppressed(self, kind: str) -> int:
        """Lines of `kind` dropped since its last logged line."""
        window = self._windows.get(kind)
        return window.suppressed if window else 0

    def flush(self) -> None:
        """Log one summary line per kind with lines suppressed since its last logged one."""
        for kind, window in self._windows.items():
            if window.suppressed:
                self.log.log(window.level, "%d %r lines suppressed in the last %.0f s", window.suppressed, kind,
                             self.interval)
                window.suppressed, window.level = 0, logging.NOTSET


__all__ = ["DEFAULT_BURST", "DEFAULT_INTERVAL", "RateLimitedLog"]
