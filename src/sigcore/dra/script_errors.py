"""Errors raised by operator scripts (pyform transforms, hooks): counted always, logged rarely.

A broken script runs on every message; logging each failure would flood the log and slow the relay.
Each distinct error (where it was raised, or what a bad return value was) is logged with its traceback at
most once per ``interval`` seconds, with the number of repeats suppressed since.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable

log = logging.getLogger("sigcore.dra.scripts")


class ScriptErrors:
    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 on_error: Callable[[str], None] | None = None) -> None:
        self.interval = interval
        self.clock = clock
        self.on_error = on_error  # called with the script's label on every error (the metrics counter)
        self.total = 0
        #: key -> [last logged at, suppressed since]
        self._seen: dict[tuple[str, ...], list[float]] = {}

    def exception(self, script: str, err: BaseException) -> None:
        """Count ``err`` raised by ``script``; log it with its traceback unless logged recently."""
        tb = traceback.extract_tb(err.__traceback__)
        where = (tb[-1].filename, str(tb[-1].lineno)) if tb else ("?", "0")
        key = (script, type(err).__name__, *where)
        if self._due(key):
            text = "".join(traceback.format_exception(type(err), err, err.__traceback__)).rstrip()
            log.error("%s raised %s; the message is forwarded unchanged%s\n%s", script, type(err).__name__,
                      self._repeats(key), text)

    def bad_value(self, script: str, what: str) -> None:
        """Count a return value of the wrong kind (``what`` says which); log it unless logged recently."""
        key = (script, "value", what)
        if self._due(key):
            log.error("%s returned %s; the value is left unchanged%s", script, what, self._repeats(key))

    def _due(self, key: tuple[str, ...]) -> bool:
        self.total += 1
        if self.on_error is not None:
            self.on_error(key[0])
        now = self.clock()
        seen = self._seen.get(key)
        if seen is None:
            self._seen[key] = [now, 0.0]
            return True
        if now - seen[0] >= self.interval:
            seen[0] = now
            return True
        seen[1] += 1
        return False

    def _repeats(self, key: tuple[str, ...]) -> str:
        seen = self._seen[key]
        n, seen[1] = int(seen[1]), 0.0
        return f" ({n} more times since last logged)" if n else ""
