"""What `sigcore.diameter.aio.runtime.HandlerTask` relies on, pinned: on a new Python these fail first.

asyncio accepts any object as the current task through ``asyncio.tasks._enter_task``/``_leave_task`` (and
refuses nesting); ``asyncio.timeout`` and ``TaskGroup`` use only ``cancel``, ``uncancel``, ``cancelling``
(and ``get_loop``) of the current task; a future's done callback runs in the context it was added with."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import pytest

from sigcore.diameter.aio.runtime import HandlerTask, start_handler

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")


def _in_callback(fn: Any, settle: float = 0.05) -> Any:
    """Run ``fn(loop)`` from a plain loop callback (as a protocol's data_received runs), let what it
    started run for ``settle`` seconds, and return its result."""
    loop = asyncio.new_event_loop()
    out: list[Any] = []
    try:
        loop.call_soon(lambda: out.append(fn(loop)))
        loop.run_until_complete(asyncio.sleep(settle))
        return out[0]
    finally:
        loop.close()


def test_asyncio_takes_any_object_as_the_current_task_and_refuses_nesting() -> None:
    enter, leave = asyncio.tasks._enter_task, asyncio.tasks._leave_task  # type: ignore[attr-defined]

    def probe(loop: asyncio.AbstractEventLoop) -> bool:
        marker = object()
        enter(loop, marker)
        try:
            with pytest.raises(RuntimeError):
                enter(loop, object())
            return asyncio.current_task(loop) is marker
        finally:
            leave(loop, marker)

    assert _in_callback(probe) is True


def test_the_first_step_runs_at_once_as_the_current_task_in_its_own_context() -> None:
    steps: list[str] = []
    ended: list[HandlerTask] = []

    async def body() -> None:
        me = asyncio.current_task()
        steps.append("first step")
        VAR.set("inside")
        await asyncio.sleep(0.001)
        steps.append("resumed" if asyncio.current_task() is me and VAR.get() == "inside" else "wrong")

    def start(loop: asyncio.AbstractEventLoop) -> tuple[list[str], HandlerTask]:
        task = start_handler(body(), loop, ended.append)
        return list(steps), task

    before_return, task = _in_callback(start)
    assert before_return == ["first step"]
    assert steps == ["first step", "resumed"] and task.done() and ended == [task] and VAR.get() == "unset"


def test_timeout_and_task_group_work_through_cancel_uncancel_cancelling() -> None:
    """The same body as a HandlerTask and as an asyncio Task: the same outcome, to the cancel count (3.11's
    TaskGroup leaves 1 when a member fails after the body ended)."""
    seen: list[str] = []

    async def body() -> None:
        try:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(1)
        except TimeoutError:
            seen.append("timed out")
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(asyncio.sleep(1))
                group.create_task(_boom())
        except* ValueError:
            seen.append("group failed")
        seen.append(f"cancelling {asyncio.current_task().cancelling()}")  # type: ignore[union-attr]

    asyncio.run(body())
    as_a_task = list(seen)
    seen.clear()
    task = _in_callback(lambda loop: start_handler(body(), loop), settle=0.2)
    assert seen == as_a_task and seen[:2] == ["timed out", "group failed"]
    assert task.done() and not task.cancelled()


async def _boom() -> None:
    await asyncio.sleep(0.01)
    raise ValueError("boom")


def test_cancel_reaches_the_awaited_future_or_the_next_step() -> None:
    never: list[asyncio.Future[None]] = []

    async def body() -> None:
        fut = asyncio.get_running_loop().create_future()
        never.append(fut)
        await fut

    def start(loop: asyncio.AbstractEventLoop) -> HandlerTask:
        task = start_handler(body(), loop)
        assert task.cancel() and task.cancelling() == 1
        return task

    task = _in_callback(start)
    assert task.cancelled() and never[0].cancelled() and not task.cancel()


async def test_inside_a_running_task_it_starts_on_the_next_turn_instead() -> None:
    steps: list[str] = []

    async def body() -> None:
        steps.append("ran")

    task = start_handler(body(), asyncio.get_running_loop())
    assert steps == []  # not nested in the running task's step
    await asyncio.sleep(0)
    assert steps == ["ran"] and task.done()
