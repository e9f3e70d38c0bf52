"""`Ticket`: the batch worker's future. Waiters resume inside the call that resolves it (no extra loop turn),
and it behaves as a future for Tasks, gather and wait_for."""

from __future__ import annotations

import asyncio

import pytest

from sigcore.store.ticket import Ticket


async def test_a_task_waiting_on_a_ticket_resumes_inside_the_resolving_callback() -> None:
    loop = asyncio.get_running_loop()
    ticket: Ticket[int] = Ticket(loop)
    seen: list[str] = []

    async def waiter() -> int:
        value = await ticket
        seen.append("resumed")
        return value

    def resolve() -> None:  # a plain loop callback, as the batch worker's drain is
        ticket.set_result(7)
        seen.append("set_result returned")

    task = asyncio.ensure_future(waiter())
    await asyncio.sleep(0)  # the task runs up to its await
    assert asyncio.isfuture(ticket) and not ticket.done()
    loop.call_soon(resolve)
    assert await task == 7
    assert seen == ["resumed", "set_result returned"]  # the task finished inside set_result


async def test_resolved_from_inside_a_task_the_waiters_wait_a_turn() -> None:
    loop = asyncio.get_running_loop()
    ticket: Ticket[int] = Ticket(loop)
    task = asyncio.ensure_future(_await(ticket))
    await asyncio.sleep(0)
    ticket.set_result(3)  # this test is itself a Task
    assert not task.done()
    assert await task == 3


async def _await(ticket: Ticket[int]) -> int:
    return await ticket


async def test_callbacks_run_synchronously_and_one_failing_does_not_stop_the_others() -> None:
    loop = asyncio.get_running_loop()
    errors: list[BaseException] = []
    loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx["exception"]))
    ticket: Ticket[str] = Ticket(loop)
    calls: list[str] = []

    def broken(_t: Ticket[str]) -> None:
        raise RuntimeError("waiter bug")

    ticket.add_done_callback(broken)
    ticket.add_done_callback(lambda t: calls.append(t.result()))
    in_same_call: list[list[str]] = []

    def resolve() -> None:  # a plain loop callback, as the batch worker's drain is
        ticket.set_result("ok")
        in_same_call.append(list(calls))

    loop.call_soon(resolve)
    await asyncio.sleep(0)
    assert in_same_call == [["ok"]]  # the waiters ran inside set_result, not a loop turn later
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError)
    late: list[str] = []
    ticket.add_done_callback(lambda t: late.append(t.result()))  # already done: scheduled like a Future
    assert late == []
    await asyncio.sleep(0)
    assert late == ["ok"]
    loop.set_exception_handler(None)


async def test_exceptions_gather_wait_for_and_no_cancel() -> None:
    loop = asyncio.get_running_loop()
    failing: Ticket[int] = Ticket(loop)
    failing.set_exception(LookupError("no such subscriber"))
    with pytest.raises(LookupError):
        await failing
    assert isinstance(failing.exception(), LookupError)

    tickets: list[Ticket[int]] = [Ticket(loop) for _ in range(3)]
    gathered = asyncio.gather(*tickets)
    for n, t in enumerate(tickets):
        loop.call_soon(t.set_result, n)
    assert await gathered == [0, 1, 2]

    slow: Ticket[int] = Ticket(loop)
    assert not slow.cancel()
    loop.call_later(0.01, slow.set_result, 5)
    assert await asyncio.wait_for(slow, 1.0) == 5
    with pytest.raises(asyncio.InvalidStateError):
        slow.set_result(6)
    with pytest.raises(asyncio.InvalidStateError):
        Ticket(loop).result()
