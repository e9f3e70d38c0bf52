"""Coroutine handlers run without a Task per request (``Node._start_handler``): they start at once, resume
from the futures they await, answer errors as 5012, and Node.stop closes the ones still waiting."""

from __future__ import annotations

import asyncio
import gc
import warnings

import pytest
from nodefixtures import start_server
from rawpeer import RawPeer, ccr, ccr_avps

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.aio import RequestContext
from sigcore.diameter.answers import answer
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
        before = len(asyncio.all_tasks())
        for n in (1, 2, 3):
            await peer.send(_ccr(n))
        await asyncio.sleep(0.05)
        assert started == [1, 2, 3]
        assert len(asyncio.all_tasks()) == before  # no Task per request
        first = await peer.read()
        second = await peer.read()
        assert {first.hop_by_hop, second.hop_by_hop} == {2, 3}  # 1 still waits for its future
        results = {m.hop_by_hop: m["Result-Code"] for m in (first, second)}
        assert results == {2: ResultCode.UNABLE_TO_COMPLY, 3: 2001}
        release.set_result(None)
        last = await peer.read()
        assert last.hop_by_hop == 1 and last["Result-Code"] == 2001
        assert not node._handlers_running
    finally:
        await peer.close()
        await node.stop(wait=0.2)


async def test_stop_closes_handlers_still_waiting_without_warnings() -> None:
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
    assert len(node._handlers_running) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine ... was never awaited" would be an error here
        await node.stop(wait=0.2)
        gc.collect()
    assert not node._handlers_running
    await peer.close()


def _ccr(number: int) -> bytes:
    return ccr(hbh=number, e2e=number, avps=ccr_avps(CC_Request_Number=number)).encode()


async def test_system_exit_in_a_handler_is_not_swallowed() -> None:
    served = await start_server()
    node = served.node

    async def leaving() -> None:
        raise SystemExit(3)

    coro = leaving()
    try:
        with pytest.raises(SystemExit):
            node._start_handler(coro)
        assert not node._handlers_running
    finally:
        await node.stop(wait=0.2)
