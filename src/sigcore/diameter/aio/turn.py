"""Work deferred to the end of what the event loop is doing now, instead of to its next turn.

Two things on the hot path are deferred on purpose: a connection's writes (all the answers produced
together leave in one ``send``) and the HSS's database batch (all the requests read together share one
transaction). Deferred with ``call_soon``, each costs a loop turn (an ``epoll_wait`` and the loop's
bookkeeping), so at light load a lone request took three turns: read, batch, write. Inside a `scope` (the
connection's read callback opens one) deferred work runs when the scope closes, in the order it was
deferred, including work deferred by that work: read → batch → write in one turn. Outside a scope `defer`
is ``call_soon``. Each deferral is still made once per scope, so the coalescing is the same.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

R = TypeVar("R")

_local = threading.local()  # .pending: the open scope's deferred work on this thread's loop, or None;
# .writes: those of them that are write flushes (`defer_write`)


def defer(fn: Callable[[], None]) -> None:
    """Run ``fn`` when the open scope closes, or on the loop's next turn when none is open."""
    pending: list[Callable[[], None]] | None = getattr(_local, "pending", None)
    if pending is not None:
        pending.append(fn)
    else:
        asyncio.get_running_loop().call_soon(fn)


def defer_write(fn: Callable[[], None]) -> None:
    """`defer` a flush of queued writes, which `send_writes` may also run before the scope closes. ``fn``
    must be harmless to run again (it then finds less or nothing to send)."""
    defer(fn)
    writes: list[Callable[[], None]] | None = getattr(_local, "writes", None)
    if writes is not None:
        writes.append(fn)


def send_writes() -> None:
    """Run the open scope's write flushes now: a long read does not hold its first answers until its end."""
    writes: list[Callable[[], None]] | None = getattr(_local, "writes", None)
    if writes:
        for fn in writes:
            _run(fn)
        writes.clear()


def open_scope() -> bool:
    """Open a scope unless one is open; True if this call opened it (and must `close_scope`)."""
    if getattr(_local, "pending", None) is not None:
        return False
    _local.pending = []
    _local.writes = []
    return True


def close_scope() -> None:
    """Run the scope's deferred work (and what it defers) to the end, then close it. A failure is reported
    to the loop's exception handler, as it would be from ``call_soon``, and the rest still runs."""
    pending: list[Callable[[], None]] = _local.pending
    index = 0
    try:
        while index < len(pending):
            fn = pending[index]
            index += 1
            _run(fn)
    finally:
        _local.pending = _local.writes = None
        if index < len(pending):  # left by KeyboardInterrupt/SystemExit: not lost, the next turn runs them
            _call_soon_all(pending[index:])


def _run(fn: Callable[[], None]) -> None:
    try:
        fn()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as err:
        asyncio.get_running_loop().call_exception_handler(
            {"message": f"exception in deferred {fn!r}", "exception": err})


def _call_soon_all(callbacks: list[Callable[[], None]]) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # no loop left to run them: the process is stopping
        return
    for fn in callbacks:
        loop.call_soon(fn)


def run_scoped(fn: Callable[..., R], *args: Any) -> R:
    """``fn(*args)`` in a scope: what it defers runs before this returns (in the enclosing scope's if open)."""
    opened = open_scope()
    try:
        return fn(*args)
    finally:
        if opened:
            close_scope()
