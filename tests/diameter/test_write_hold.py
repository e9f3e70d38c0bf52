"""A read's writes leave together at its end (one ``send`` per destination), but are not held longer than
`connection.WRITE_HOLD`, or `HOLD_SENDS` sends' worth where sends are dear: in a long read the first answers
leave while later frames are still processed."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from sigcore.diameter.aio import connection
from sigcore.diameter.aio.connection import Connection, SendCost
from sigcore.diameter.message import Message

FRAMES = 8


def busy(seconds: float) -> None:
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        pass


class Transport(asyncio.Transport):
    def __init__(self, cost: float = 0.0) -> None:
        super().__init__()
        self.cost = cost  # how long a write takes (a busy wait)
        self.writes: list[tuple[bytes, int]] = []  # (data, frames processed when it was written)
        self.processed = 0

    def write(self, data: bytes) -> None:
        busy(self.cost)
        self.writes.append((bytes(data), self.processed))

    def get_extra_info(self, name: str) -> Any:
        return None


class EchoNode:
    """Answers each frame on the same connection after ``work`` seconds of CPU (a busy wait)."""

    def __init__(self, work: float, send_cost: float = 0.0) -> None:
        self.work = work
        self.connections: set[Connection] = set()
        self.transport = Transport(send_cost)

    def on_accepted(self, conn: Connection) -> None:
        pass

    def on_read_done(self, conn: Connection) -> None:
        pass

    def on_frame(self, conn: Connection, frame: bytes) -> None:
        busy(self.work)
        self.transport.processed += 1
        conn.send_bytes(frame)


def read_of(node: EchoNode) -> bytes:
    conn = Connection(node)  # type: ignore[arg-type]
    conn.connection_made(node.transport)  # type: ignore[arg-type]
    frames = b"".join(Message(280, 0, 0x80, n, n, []).encode() for n in range(FRAMES))
    conn.data_received(frames)
    return frames


def test_a_short_read_sends_its_writes_once_at_its_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection, "WRITE_HOLD", 1.0)  # "short": whatever the machine's load does to it
    node = EchoNode(work=0.0)
    frames = read_of(node)
    assert node.transport.writes == [(frames, FRAMES)]


def test_a_long_read_does_not_hold_its_first_writes_until_its_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection, "WRITE_HOLD", 0.002)
    monkeypatch.setattr(SendCost, "average", 0.0)  # sends cheap: the hold is WRITE_HOLD
    node = EchoNode(work=0.001)  # two frames pass the hold
    frames = read_of(node)
    writes = node.transport.writes
    assert b"".join(data for data, _ in writes) == frames  # every answer, once, in order
    assert len(writes) >= FRAMES // 3 and writes[0][1] < FRAMES  # the first left before the last was read


def test_where_sends_are_dear_a_read_holds_its_writes_longer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same long read as above, but each send has been costing 50 ms: sending early would cost the
    frames still to come more than they wait, so the read's writes leave together at its end."""
    monkeypatch.setattr(connection, "WRITE_HOLD", 0.002)
    monkeypatch.setattr(SendCost, "average", 0.05)
    node = EchoNode(work=0.001)
    frames = read_of(node)
    assert node.transport.writes == [(frames, FRAMES)]


def test_the_send_cost_follows_what_writes_take(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SendCost, "average", 0.0)
    node = EchoNode(work=0.0, send_cost=0.001)
    for _ in range(40):
        read_of(node)  # one write each
    assert SendCost.average > 0.0008  # a write busy-waits 1 ms; 40 of them move the average most of the way
    assert SendCost.hold() >= connection.HOLD_SENDS * 0.0008
