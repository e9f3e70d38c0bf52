"""Handlers run as ordinary asyncio Tasks, started eagerly: the one place the stack relies on asyncio's
internals (pinned by tests/diameter/test_runtime.py, so a Python that changes them fails a test, not
production).

Why eagerly: ``loop.create_task`` only schedules a Task's first step for the loop's next turn. A request's
handler would then start a turn after its bytes were read, and the requests read together would no longer
reach the database batch inside the read's `turn` scope: a lone request would pay an extra turn of the loop
(an ``epoll_wait`` and the loop's bookkeeping) before anything happens. Python 3.12's ``eager_start`` runs
the first step at once; on 3.11 `start_task` does the same by running the Handle ``create_task`` has just
queued on the loop's ready queue, right away and exactly once.

The Task is a real one: ``asyncio.current_task()``, ``asyncio.timeout``, ``TaskGroup``, ``contextvars``
and cancellation behave as anywhere else.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
EAGER_START = sys.version_info >= (3, 12)  # asyncio.Task(..., eager_start=True)


def start_task(coro: Coroutine[Any, Any, T], loop: asyncio.AbstractEventLoop) -> asyncio.Task[T]:
    """A Task running ``coro``, its first step (up to its first real await) already run when this returns.

    Falls back to an ordinary (lazily started) Task when the loop is not the standard one, a task factory
    queues something else, or a Task is running at the moment (its step is not to be nested in).
    """
    if EAGER_START:
        task: asyncio.Task[T] = asyncio.Task(coro, loop=loop, eager_start=True)  # type: ignore[call-arg]
        return task
    ready = getattr(loop, "_ready", None)
    task = loop.create_task(coro)
    if not ready or asyncio.tasks._current_tasks.get(loop) is not None:  # type: ignore[attr-defined]
        return task
    handle = ready[-1]
    if getattr(getattr(handle, "_callback", None), "__self__", None) is task:
        ready.pop()
        handle._run()
    return task
