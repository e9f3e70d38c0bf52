"""What `sigcore.diameter.aio.runtime.start_task` relies on, pinned: on a new Python these fail first.

On 3.11: ``loop.create_task`` queues exactly one Handle on ``loop._ready`` whose callback is bound to the new
Task, and running that Handle runs the Task's first step with the Task as ``current_task``. On 3.12+:
``asyncio.Task(..., eager_start=True)``."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import pytest

from sigcore.diameter.aio.runtime import EAGER_START, start_task

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")


def _in_callback(fn: Any) -> Any:
    """Run ``fn(loop)`` from a plain loop callback (as a protocol's data_received runs), return its result."""
    loop = asyncio.new_event_loop()
    out: list[Any] = []
    try:
        loop.call_soon(lambda: out.append(fn(loop)))
        loop.call_soon(loop.stop)
        loop.run_forever()
        loop.run_until_complete(asyncio.sleep(0))  # let what was scheduled finish
        return out[0]
    finally:
        loop.close()


@pytest.mark.skipif(EAGER_START, reason="3.11's create_task layout; 3.12+ uses eager_start")
def test_create_task_queues_one_handle_bound_to_the_task() -> None:
    def probe(loop: asyncio.AbstractEventLoop) -> tuple[int, bool]:
        ready = loop._ready  # type: ignore[attr-defined]
        before = len(ready)
        task = loop.create_task(asyncio.sleep(0))
        bound = ready[-1]._callback.__self__ is task
        return len(ready) - before, bound

    assert _in_callback(probe) == (1, True)


def test_the_first_step_runs_before_start_task_returns_as_the_current_task() -> None:
    steps: list[str] = []

    async def body() -> str:
        steps.append("first step")
        me = asyncio.current_task()
        VAR.set("inside")
        await asyncio.sleep(0)
        steps.append("resumed")
        return "done" if asyncio.current_task() is me and VAR.get() == "inside" else "wrong task"

    def start(loop: asyncio.AbstractEventLoop) -> tuple[list[str], asyncio.Task[str]]:
        task = start_task(body(), loop)
        return list(steps), task

    before_return, task = _in_callback(start)
    assert before_return == ["first step"]
    assert task.result() == "done" and steps == ["first step", "resumed"] and VAR.get() == "unset"


def test_a_task_finishing_in_its_first_step_is_done_at_once() -> None:
    async def body() -> int:
        return 7

    task = _in_callback(lambda loop: start_task(body(), loop))
    assert task.done() and task.result() == 7


async def test_inside_a_running_task_it_starts_on_the_next_turn_instead() -> None:
    steps: list[str] = []

    async def body() -> None:
        steps.append("ran")

    task = start_task(body(), asyncio.get_running_loop())
    if not EAGER_START:
        assert steps == []  # not nested in the running task's step
    await task
    assert steps == ["ran"]
