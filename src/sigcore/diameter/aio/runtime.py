"""How a request's coroutine handler runs: as a `HandlerTask`, which asyncio sees as the current task — the
one place the stack relies on asyncio's internals (pinned by tests/diameter/test_runtime.py, so a Python
that changes them fails a test, not production).

Why not ``loop.create_task``: an asyncio Task only schedules its first step for the loop's next turn, so a
handler would start a turn after its bytes were read and the requests read together would no longer join
one database batch inside the read's `turn` scope; and making and registering a Task (its name, its
Handle, the ``all_tasks`` WeakSet entry, released again by a weakref callback) is measurable on a lone S6a
request (docs/performance.md). A `HandlerTask` starts at once, inside the read (as Python 3.12's
``eager_start`` would), and each step is entered with ``asyncio.tasks._enter_task`` as a Task's is.

What a handler can rely on, as in any Task: ``asyncio.current_task()`` (this object), ``asyncio.timeout``
and ``TaskGroup`` (they use ``cancel``/``uncancel``/``cancelling``), its own contextvars context (copied at
start, as a Task's; child Tasks copy it in turn), cancellation (``cancel`` cancels the future it waits on,
or throws CancelledError at its next step), awaiting any future, Ticket or Task. What it is not: an
``asyncio.Task`` instance, nor listed by ``asyncio.all_tasks()``.
"""

from __future__ import annotations

import asyncio
import contextvars
from asyncio import tasks as _tasks
from collections.abc import Callable, Coroutine
from typing import Any, Final

# Typed loosely: asyncio accepts any object as the current task (typeshed says Task)
_enter_task: Final[Callable[[Any, Any], None]] = _tasks._enter_task
_leave_task: Final[Callable[[Any, Any], None]] = _tasks._leave_task
_current_tasks: Final[dict[asyncio.AbstractEventLoop, Any]] = _tasks._current_tasks  # type: ignore[attr-defined]
_CancelledError: Final = asyncio.CancelledError


class HandlerTask:
    """Drives one coroutine to its end, as an asyncio Task would. ``on_done(task)`` is called when it ends
    (returned, raised or cancelled); what the coroutine returns or raises is its own business (the node's
    handler wrapper catches everything an answer can be made of)."""

    __slots__ = ("_cancel_message", "_cancels", "_context", "_coro", "_loop", "_must_cancel", "_on_done", "_state",
                 "_waiter")

    def __init__(self, coro: Coroutine[Any, Any, Any], loop: asyncio.AbstractEventLoop,
                 on_done: Callable[[HandlerTask], None] | None = None) -> None:
        self._coro = coro
        self._loop = loop
        self._on_done = on_done
        self._context = contextvars.copy_context()
        self._waiter: Any = None
        self._must_cancel = False
        self._cancel_message: Any = None
        self._cancels = 0
        self._state = 0  # 0 running, 1 finished, 2 cancelled

    def start(self) -> None:
        """Run the first step now (inside a running Task: on the next turn instead, not nested in it)."""
        if _current_tasks.get(self._loop) is not None:
            self._loop.call_soon(self._step, None, context=self._context)
        else:
            self._context.run(self._step, None)

    # --- what asyncio asks of the current task -------------------------------------------------------
    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def get_coro(self) -> Coroutine[Any, Any, Any]:
        return self._coro

    def get_name(self) -> str:
        return f"handler {getattr(self._coro, '__qualname__', self._coro)}"

    def done(self) -> bool:
        return self._state != 0

    def cancelled(self) -> bool:
        return self._state == 2

    def cancelling(self) -> int:
        return self._cancels

    def uncancel(self) -> int:
        if self._cancels > 0:
            self._cancels -= 1
        return self._cancels

    def cancel(self, msg: Any = None) -> bool:
        if self._state != 0:
            return False
        self._cancels += 1
        waiter = self._waiter
        if waiter is not None and waiter.cancel(msg=msg):
            return True  # its wake-up throws the CancelledError in
        self._must_cancel = True
        self._cancel_message = msg
        return True

    def __repr__(self) -> str:
        return f"<HandlerTask {self.get_name()} {('running', 'done', 'cancelled')[self._state]}>"

    # --- driving --------------------------------------------------------------------------------------
    def _step(self, exc: BaseException | None) -> None:
        """One step, in the task's context (``start`` and the wake-ups are called in it)."""
        if self._must_cancel:
            self._must_cancel = False
            exc = _CancelledError(self._cancel_message)
        self._waiter = None
        loop = self._loop
        _enter_task(loop, self)  # a wake-up never comes nested in a task's step: futures call back from the
        # loop, and a Ticket resolved inside a task defers its callbacks
        try:
            result = self._coro.send(None) if exc is None else self._coro.throw(exc)
        except StopIteration:
            self._finish(1)
        except _CancelledError:
            self._finish(2)
        except BaseException:
            self._finish(1)
            raise
        else:
            if getattr(result, "_asyncio_future_blocking", None):
                result._asyncio_future_blocking = False
                result.add_done_callback(self._wakeup, context=self._context)
                self._waiter = result
                if self._must_cancel and result.cancel(msg=self._cancel_message):
                    self._must_cancel = False
            elif result is None:  # a bare yield (asyncio.sleep(0)): again on the next turn
                loop.call_soon(self._step, None, context=self._context)
            else:
                loop.call_soon(self._step, RuntimeError(f"handler yielded {result!r}, not a future"),
                               context=self._context)
        finally:
            _leave_task(loop, self)

    def _wakeup(self, future: Any) -> None:
        """The awaited future is done: resume. Its result or exception (CancelledError too) reaches the
        coroutine through the ``await`` itself (``Future.__await__`` returns ``result()``)."""
        self._step(None)

    def _finish(self, state: int) -> None:
        self._state = state
        self._waiter = None
        if self._on_done is not None:
            self._on_done(self)


def start_handler(coro: Coroutine[Any, Any, Any], loop: asyncio.AbstractEventLoop,
                  on_done: Callable[[HandlerTask], None] | None = None) -> HandlerTask:
    """A `HandlerTask` for ``coro``, its first step already run (up to its first real await)."""
    task = HandlerTask(coro, loop, on_done)
    task.start()
    return task
