"""The awaitable a batched item returns: a future whose waiters resume when the batch resolves it, in the
same loop turn.

An asyncio Future schedules each of its done callbacks with ``call_soon``: a request whose batch has just
committed waits one more turn of the loop, and the loop pays a Handle per request to get there. At light
load, when most batches hold one request, that turn is a large share of a request's cost. A `Ticket` runs
its callbacks (the waiting handler's resumption, or a Task's wake-up) right away, inside the call that
resolves the batch.

It is a future as far as asyncio is concerned (``asyncio.isfuture``): it can be awaited from a Task, from
`sigcore.diameter.aio.Node`'s handler driver, or passed to ``gather``/``wait_for``. It cannot be
cancelled: the item is in a transaction already, and its outcome arrives with the batch's.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Generator
from typing import Any, Generic, TypeVar

T = TypeVar("T")
Callback = Callable[["Ticket[Any]"], object]


class Ticket(Generic[T]):
    __slots__ = ("_asyncio_future_blocking", "_callbacks", "_done", "_exception", "_loop", "_result")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._done = False
        self._result: T | None = None
        self._exception: BaseException | None = None
        self._callbacks: list[tuple[Callback, contextvars.Context | None]] = []
        self._asyncio_future_blocking = False

    # --- the Future protocol asyncio relies on --------------------------------------------------
    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def done(self) -> bool:
        return self._done

    def cancelled(self) -> bool:
        return False

    def cancel(self, msg: object = None) -> bool:
        return False

    def result(self) -> T:
        if not self._done:
            raise asyncio.InvalidStateError("the batch has not resolved this item yet")
        if self._exception is not None:
            raise self._exception
        return self._result  # type: ignore[return-value]

    def exception(self) -> BaseException | None:
        if not self._done:
            raise asyncio.InvalidStateError("the batch has not resolved this item yet")
        return self._exception

    def add_done_callback(self, fn: Callback, *, context: contextvars.Context | None = None) -> None:
        if self._done:
            self._loop.call_soon(fn, self, context=context)
        else:
            self._callbacks.append((fn, context))

    def remove_done_callback(self, fn: Callback) -> int:
        before = len(self._callbacks)
        self._callbacks = [(f, c) for f, c in self._callbacks if f != fn]
        return before - len(self._callbacks)

    def __await__(self) -> Generator[Any, None, T]:
        if not self._done:
            self._asyncio_future_blocking = True
            yield self  # the Task or handler driver waits on us
        return self.result()

    __iter__ = __await__

    # --- resolving -------------------------------------------------------------------------------
    def set_result(self, value: T) -> None:
        self._result = value
        self._resolve()

    def set_exception(self, exc: BaseException) -> None:
        self._exception = exc
        self._resolve()

    def _resolve(self) -> None:
        if self._done:
            raise asyncio.InvalidStateError("a ticket is resolved once")
        self._done = True
        callbacks, self._callbacks = self._callbacks, []
        if asyncio.current_task(self._loop) is not None:
            # Resolved from inside a Task (not the batch worker's loop callback): a waiting Task's wake-up
            # cannot run nested in another Task's step, so wait for the next turn like a Future's waiters.
            for fn, context in callbacks:
                self._loop.call_soon(fn, self, context=context)
            return
        for fn, context in callbacks:
            try:
                if context is None:
                    fn(self)
                else:
                    context.run(fn, self)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as err:  # one waiter's failure must not keep the others waiting
                self._loop.call_exception_handler({"message": "exception in a ticket callback", "exception": err})
