"""`sigcore.diameter.aio.turn`: work deferred inside a scope runs when the scope closes, in order, including
what that work defers; outside a scope it waits for the loop's next turn; one failure is reported to the
loop like a ``call_soon`` callback's, and the rest still runs."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nodefixtures import start_server
from rawpeer import RawPeer, ccr
from sqlalchemy import Connection

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.aio import RequestContext, turn
from sigcore.diameter.answers import answer
from sigcore.diameter.message import Message
from sigcore.store import Store, migrate
from sigcore.store.batch import BatchKind, BatchWorker


async def test_outside_a_scope_deferred_work_waits_for_the_next_turn() -> None:
    ran: list[str] = []
    turn.defer(lambda: ran.append("deferred"))
    assert ran == []
    await asyncio.sleep(0)
    assert ran == ["deferred"]


async def test_a_scope_runs_its_work_in_order_at_its_end_including_work_deferred_by_work() -> None:
    ran: list[str] = []

    def batch() -> None:
        ran.append("batch")
        turn.defer(lambda: ran.append("write"))  # what a resumed handler's answer does

    def read() -> str:
        turn.defer(batch)
        turn.defer(lambda: ran.append("second"))
        assert turn.open_scope() is False  # nested: the outer scope collects
        ran.append("read")
        return "value"

    assert turn.run_scoped(read) == "value"
    assert ran == ["read", "batch", "second", "write"]
    await asyncio.sleep(0)
    assert ran == ["read", "batch", "second", "write"]  # nothing left for the next turn


async def test_a_failing_deferral_is_reported_and_the_others_still_run() -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    ran: list[str] = []

    def broken() -> None:
        raise ValueError("deferred bug")

    def read() -> None:
        turn.defer(broken)
        turn.defer(lambda: ran.append("after"))

    try:
        turn.run_scoped(read)
    finally:
        loop.set_exception_handler(None)
    assert ran == ["after"]
    assert len(reported) == 1 and isinstance(reported[0]["exception"], ValueError)
    assert turn.open_scope() is True  # the scope was closed
    turn.close_scope()


async def test_keyboard_interrupt_propagates_and_what_was_left_runs_on_the_next_turn() -> None:
    ran: list[str] = []

    def interrupted() -> None:
        raise KeyboardInterrupt

    def read() -> None:
        turn.defer(interrupted)
        turn.defer(lambda: ran.append("left"))

    try:
        turn.run_scoped(read)
    except KeyboardInterrupt:
        ran.append("interrupt")
    assert ran == ["interrupt"]
    assert turn.open_scope() is True  # closed despite the interrupt
    turn.close_scope()
    await asyncio.sleep(0)
    assert ran == ["interrupt", "left"]


async def test_an_exception_in_the_scope_still_runs_what_was_deferred() -> None:
    ran: list[str] = []

    def read() -> None:
        turn.defer(lambda: ran.append("flush"))
        raise RuntimeError("read failed")

    try:
        turn.run_scoped(read)
    except RuntimeError:
        pass
    assert ran == ["flush"]


class _Probe(BatchKind[int, int]):
    """A database batch that reads one row: the HSS's AIR in miniature."""

    def run(self, conn: Connection, items: Sequence[int]) -> list[int | Exception]:
        conn.exec_driver_sql("SELECT 1").all()
        return list(items)


async def test_a_lone_request_is_read_batched_and_answered_in_one_loop_callback(tmp_path: Path) -> None:
    """The read callback opens a scope: the batch the handler waits on and the answer's ``send`` happen
    before the read callback returns, not one and two loop turns later."""
    url = f"sqlite:///{tmp_path / 'turn.sqlite'}"
    migrate(url)
    store = Store(url, None)
    worker = BatchWorker(store)
    assert worker.inline
    served = await start_server()
    kind = _Probe()

    async def handle(req: Message, ctx: RequestContext) -> Message:
        number = await worker.submit(kind, int(req["CC-Request-Number"]))
        return answer(req, ctx.node.identity, 2001, [D.build("Auth-Application-Id", 4), D.build("CC-Request-Type", 1),
                                                     D.build("CC-Request-Number", number)])

    served.node.register(4, 272, handle)
    peer = await RawPeer.connect(served.port)
    try:
        assert (await peer.handshake())["Result-Code"] == 2001
        conn = next(iter(served.node.connections))
        events: list[str] = []
        read, write = conn.data_received, conn.transport.write  # type: ignore[union-attr]

        def traced_read(data: bytes) -> None:
            events.append("read")
            read(data)
            events.append("read returned")

        def traced_write(data: Any) -> None:
            events.append("send")
            write(data)

        conn.data_received = traced_read  # type: ignore[method-assign]
        conn.transport.write = traced_write  # type: ignore[union-attr,method-assign]
        await peer.send(ccr(hbh=7, e2e=7).encode())
        got = await peer.read()
        assert got.hop_by_hop == 7 and got["Result-Code"] == 2001 and got["CC-Request-Number"] == 0
        assert events == ["read", "send", "read returned"]
        assert worker.batches == 1
    finally:
        await peer.close()
        await served.node.stop(wait=0.5)
        await worker.stop()
        store.close()
