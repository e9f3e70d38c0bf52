"""A background loop that runs a step every ``interval`` seconds and ends when asked, not by cancellation.

Why not cancel it: the Redis client times its socket writes with ``asyncio.wait_for``, which on Python 3.11
drops a cancellation that lands in the same loop step as the result. A loop cancelled there runs on, and
whoever awaits it waits for ever (the metrics flusher did). So ``stop`` sets an event the loop waits on
between steps and waits for the step in progress; each step must bound itself with its own timeouts.
Waiting is also what a step running in a thread needs: cancelling its awaiting task leaves the thread
writing to a store that its owner is about to close.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable


class Periodic:
    def __init__(self, step: Callable[[], Awaitable[object]], interval: float, name: str,
                 first_at_start: bool = False) -> None:
        self.step = step
        self.interval = interval
        self.name = name
        self.first_at_start = first_at_start
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Return once the step in progress, if any, has ended; no step starts after this is called."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            await task

    async def _run(self) -> None:
        if self.first_at_start:
            await self.step()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await self._stopping.wait()
            if self._stopping.is_set():
                return
            await self.step()
