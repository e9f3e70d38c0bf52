"""Unexpected failures that can repeat per request (a handler raising, a database refusing every write):
the first of each kind is logged with its traceback, the repeats a few per 10 s with a count of the rest
(`sigcore.log_limit`), so one cause cannot write a traceback per request."""

from __future__ import annotations

import logging

from sigcore.log_limit import RateLimitedLog


class FailureLog:
    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self.limited = RateLimitedLog(log)
        self._traced: set[str] = set()

    def failed(self, kind: str, err: BaseException, msg: str, *args: object) -> None:
        """Log ``msg % args`` for `err` at ERROR: with the traceback the first time `kind` fails."""
        if kind not in self._traced:
            self._traced.add(kind)
            self.log.error(msg + " (repeats are rate-limited)", *args, exc_info=err)
            return
        first_line = str(getattr(err, "orig", None) or err).partition("\n")[0][:200]
        self.limited.error(kind, msg + ": %s: %s", *args, type(err).__name__, first_line)
