"""The signals a long-running sigcore process answers on its event loop (`sigcore run`, `sigcore snmp-agent`)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable


def handle_stop_and_reload(stop: asyncio.Event, reload: Callable[[], None]) -> None:
    """SIGINT and SIGTERM set `stop`; SIGHUP calls `reload` (its default action would end the process).
    Outside the main thread (tests) there is no signal handling, and nothing is installed."""
    loop = asyncio.get_running_loop()
    for sig, handler in ((signal.SIGINT, stop.set), (signal.SIGTERM, stop.set), (signal.SIGHUP, reload)):
        try:
            loop.add_signal_handler(sig, handler)
        except (NotImplementedError, RuntimeError):
            pass
