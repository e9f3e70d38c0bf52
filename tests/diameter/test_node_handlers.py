"""Coroutine handlers run as tasks started at once (`runtime.HandlerTask`): they start inside
the read that brought their request, resume from the futures they await, answer errors as 5012, may use
``asyncio.timeout``, ``current_task``, ``TaskGroup``, contextvars and cancellation, and Node.stop cancels
the ones still waiting."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import warnings
from types import SimpleNamespace
from typing import Any

import pytest
from nodefixtures import start_server
from rawpeer import RawPeer, ccr, ccr_avps

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.aio import RequestContext
from sigcore.diameter.answers import answer
from sigcore.diameter.application import Rejected
from sigcore.diameter.constants import ResultCode
from sigcore.diameter.message import Message


async def test_handlers_await_futures_sleeps_and_requests_and_errors_become_5012() -> None:
    served = await start_server()
    node = served.node
    started: list[int] = []
    release = asyncio.get_running_loop().create_future()

    async def handle(req: Message, ctx: RequestContext) -> Message:
        number = int(req["CC-Request-Number"])
        started.append(number)
        await asyncio.sleep(0)  # a bare yield
        if number == 1:
            await release  # a plain future, resolved later by the test
        await asyncio.sleep(0.01)  # a timer future
        if number == 2:
            raise RuntimeError("handler bug")
        return answer(req, ctx.node.identity, 2001, [D.build("Auth-Application-Id", 4),
                                                     D.build("CC-Request-Type", 1),
                                                     D.build("CC-Request-Number", number)])

    node.register(4, 272, handle)
    peer = await RawPeer.connect(served.port)
    try:
        await peer.handshake()
        for n in (1, 2, 3):
            await peer.send(_ccr(n))
        await asyncio.sleep(0.05)
        assert started == [1, 2, 3]
        assert len(node.handler_tasks) == 1  # 1 waits for its future; 2 and 3 are done
        first = await peer.read()
        second = await peer.read()
        assert {first.hop_by_hop, second.hop_by_hop} == {2, 3}  # 1 still waits for its future
        results = {m.hop_by_hop: m["Result-Code"] for m in (first, second)}
        assert results == {2: ResultCode.UNABLE_TO_COMPLY, 3: 2001}
        release.set_result(None)
        last = await peer.read()
        assert last.hop_by_hop == 1 and last["Result-Code"] == 2001
        assert not node.handler_tasks
    finally:
        await peer.close()
        await node.stop(wait=0.2)


async def test_stop_cancels_handlers_still_waiting_without_warnings() -> None:
    served = await start_server()
    node = served.node
    never = asyncio.get_running_loop().create_future()

    async def handle(req: Message, ctx: RequestContext) -> Message:
        await never
        raise AssertionError("unreachable")

    node.register(4, 272, handle)
    peer = await RawPeer.connect(served.port)
    await peer.handshake()
    await peer.send(_ccr(7))
    await asyncio.sleep(0.05)
    (task,) = node.handler_tasks
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Task was destroyed but it is pending" would be an error here
        await node.stop(wait=0.2)
        gc.collect()
    assert not node.handler_tasks and task.cancelled()
    await peer.close()


def _ccr(number: int) -> bytes:
    return ccr(hbh=number, e2e=number, avps=ccr_avps(CC_Request_Number=number)).encode()


def test_system_exit_in_a_handler_is_not_swallowed() -> None:
    """From a loop callback (as a read is), the handler's first step runs inside ``handle``: SystemExit
    leaves through the loop."""
    from sigcore.diameter.aio import Node, NodeSettings
    from sigcore.diameter.answers import Identity

    node = Node(NodeSettings(Identity("hss.localdomain", "localdomain")))

    async def leaving(req: Message, ctx: RequestContext) -> Message:
        raise SystemExit(3)

    node.register(4, 272, leaving)
    conn = SimpleNamespace(serving=0)  # what `handle` reads of the connection: its count of handlers running
    loop = asyncio.new_event_loop()
    try:
        loop.call_soon(node.handle, leaving, Message.decode(_ccr(1)), None, conn)
        with pytest.raises(SystemExit):
            loop.run_forever()
        assert not node.handler_tasks and conn.serving == 0
    finally:
        loop.close()


# --- ordinary asyncio inside a handler ----------------------------------------------------------------------

REQUEST_ID: contextvars.ContextVar[int] = contextvars.ContextVar("request_id", default=-1)


async def _exchange(handle: Any, numbers: list[int]) -> list[Message]:
    served = await start_server()
    served.node.register(4, 272, handle)
    peer = await RawPeer.connect(served.port)
    try:
        await peer.handshake()
        for n in numbers:
            await peer.send(_ccr(n))
        answers = [await peer.read() for _ in numbers]
        return sorted(answers, key=lambda m: m.hop_by_hop)
    finally:
        await peer.close()
        await served.node.stop(wait=0.2)


def _ok(req: Message, ctx: RequestContext, number: int) -> Message:
    return answer(req, ctx.node.identity, 2001, [D.build("Auth-Application-Id", 4), D.build("CC-Request-Type", 1),
                                                 D.build("CC-Request-Number", number)])


async def test_a_handler_uses_asyncio_timeout_and_current_task() -> None:
    tasks: list[Any] = []

    async def handle(req: Message, ctx: RequestContext) -> Message:
        tasks.append(asyncio.current_task())
        number = int(req["CC-Request-Number"])
        try:
            async with asyncio.timeout(0.05):
                await asyncio.sleep(10 if number == 1 else 0)
        except TimeoutError:
            raise Rejected(ResultCode.UNABLE_TO_COMPLY, "backend timed out") from None
        return _ok(req, ctx, number)

    slow, fast = await _exchange(handle, [1, 2])
    assert slow["Result-Code"] == 5012 and slow["Error-Message"] == "backend timed out"
    assert fast["Result-Code"] == 2001
    assert len(tasks) == 2 and None not in tasks and tasks[0] is not tasks[1]


async def test_a_handler_runs_a_task_group_and_sees_its_own_contextvars() -> None:
    seen: dict[int, list[int]] = {}

    async def child(number: int, out: list[int]) -> None:
        await asyncio.sleep(0.01 * (3 - number))
        out.append(REQUEST_ID.get())  # a child Task copies the handler's context

    async def handle(req: Message, ctx: RequestContext) -> Message:
        number = int(req["CC-Request-Number"])
        REQUEST_ID.set(number)  # each handler has its own context: no leak between requests
        out: list[int] = []
        async with asyncio.TaskGroup() as group:
            for _ in range(3):
                group.create_task(child(number, out))
        seen[number] = out
        return _ok(req, ctx, number)

    answers = await _exchange(handle, [1, 2])
    assert [a["Result-Code"] for a in answers] == [2001, 2001]
    assert seen == {1: [1, 1, 1], 2: [2, 2, 2]} and REQUEST_ID.get() == -1


async def test_a_handler_cancelling_its_own_work_and_a_failing_task_group_member() -> None:
    async def handle(req: Message, ctx: RequestContext) -> Message:
        number = int(req["CC-Request-Number"])
        work = asyncio.ensure_future(asyncio.sleep(10))
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await work
        if number == 2:
            async with asyncio.TaskGroup() as group:  # one member fails: the others are cancelled
                group.create_task(asyncio.sleep(10))
                group.create_task(_fail())
        return _ok(req, ctx, number)

    ok, failed = await _exchange(handle, [1, 2])
    assert ok["Result-Code"] == 2001 and failed["Result-Code"] == 5012


async def _fail() -> None:
    raise ValueError("member failed")
