"""Connections before their CER (sigcore.diameter.admission): limits per address and in all, the CER
deadline from the accept, a bound on what a stranger may buffer; a CER under our own name; backpressure
from a peer that does not read its answers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from nodefixtures import Served, start_server
from rawpeer import RawPeer, ccr

from sigcore.diameter.admission import AdmissionLimits
from sigcore.diameter.constants import FLAG_ERROR, ResultCode


@contextlib.asynccontextmanager
async def running(**options: Any) -> AsyncIterator[Served]:
    served = await start_server(**options)
    try:
        yield served
    finally:
        await served.node.stop(wait=0.2)


async def connect_from(port: int, source: str) -> RawPeer:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    return RawPeer(reader, writer)


async def settled(value: Callable[[], int], quiet: float = 0.5, most: float = 15.0) -> int:
    """`value()` once it has not changed for `quiet` seconds."""
    deadline = time.monotonic() + most
    last = value()
    while time.monotonic() < deadline:
        await asyncio.sleep(quiet)
        now = value()
        if now == last:
            return now
        last = now
    raise AssertionError(f"still changing after {most} s: {last}")


async def gone(peer: RawPeer, timeout: float) -> float | None:
    """Seconds until the server closed or reset the connection, None if it is still open after `timeout`."""
    started = time.monotonic()
    try:
        data = await asyncio.wait_for(peer.reader.read(65536), timeout)
    except TimeoutError:
        return None
    except ConnectionResetError:
        return time.monotonic() - started
    return time.monotonic() - started if data == b"" else None


async def test_a_connection_without_cer_is_closed_at_the_cer_deadline() -> None:
    async with running(cer_timeout=1.0) as served:
        silent = await RawPeer.connect(served.port)
        half = await RawPeer.connect(served.port)
        await half.send(ccr().encode()[:30])  # half a message, then nothing
        closed = await asyncio.gather(gone(silent, 5), gone(half, 5))
        assert all(seconds is not None and 0.8 < seconds < 2.0 for seconds in closed), closed
        assert len(served.node.core.admission) == 0
        fine = await RawPeer.connect(served.port)
        assert (await fine.handshake())["Result-Code"] == 2001
        assert await gone(fine, 1.5) is None  # a peer that sent its CER is past the deadline
        await fine.close()


async def test_connections_beyond_the_per_address_limit_are_reset() -> None:
    async with running(limits=AdmissionLimits(pre_cer_connections=100, pre_cer_per_address=2)) as served:
        first, second = await RawPeer.connect(served.port), await RawPeer.connect(served.port)
        third = await RawPeer.connect(served.port)
        assert await gone(third, 2) is not None
        other = await connect_from(served.port, "127.0.0.2")  # another address has its own quota
        assert await gone(other, 0.3) is None
        assert (await first.handshake())["Result-Code"] == 2001  # one waiting less: room for one more
        fourth = await RawPeer.connect(served.port)
        assert await gone(fourth, 0.3) is None
        assert len(served.node.core.admission) == 3  # second, other, fourth
        for peer in (first, second, other, fourth):
            await peer.close()


async def test_beyond_the_global_limit_connections_are_reset() -> None:
    async with running(limits=AdmissionLimits(pre_cer_connections=3, pre_cer_per_address=16)) as served:
        held = [await connect_from(served.port, f"127.0.0.{n}") for n in range(2, 5)]
        extra = await connect_from(served.port, "127.0.0.9")
        assert await gone(extra, 2) is not None
        for peer in held:
            await peer.close()


async def test_a_stranger_cannot_make_us_buffer_a_megabyte() -> None:
    async with running() as served:
        peer = await RawPeer.connect(served.port)
        head = bytearray(ccr().encode()[:20])
        head[1:4] = (1 << 20).to_bytes(3, "big")  # "a 1 MiB message follows": fine for a peer, not before CER
        await peer.send(bytes(head))
        answer = await peer.read()
        assert answer["Result-Code"] == ResultCode.INVALID_MESSAGE_LENGTH
        assert await gone(peer, 2) is not None


async def test_a_cer_carrying_our_own_origin_host_is_3010() -> None:
    async with running() as served:
        peer = await RawPeer.connect(served.port)
        cea = await peer.handshake(origin="HSS.localdomain")  # the node's own name, in other case
        assert cea["Result-Code"] == ResultCode.UNKNOWN_PEER and cea.flags & FLAG_ERROR
        assert await gone(peer, 2) is not None
        assert "hss.localdomain" not in served.node.peers


@pytest.mark.slow
async def test_a_peer_that_does_not_read_stops_being_read() -> None:
    """Pipelined requests, answers never read: the node stops reading once its write buffer is full, other
    peers are served meanwhile, and the answers come in order once the peer reads."""
    async with running() as served:
        sock = socket.socket()  # the default receive buffer: a tiny one makes the reading phase crawl (test_flood)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", served.port))
        greedy = RawPeer(*await asyncio.open_connection(sock=sock))
        await greedy.handshake()
        count = 100_000
        batch = b"".join(ccr(hbh=n, e2e=n).encode() for n in range(1, count + 1))
        greedy.writer.write(batch)  # the client buffers what the kernel will not take
        read = await settled(lambda: len(served.calls))
        (conn,) = [c for c in served.node.connections if c.peer is not None and c.peer.name == "client.localdomain"]
        assert conn.reading_paused and read < count // 2, (read, count)
        other = await connect_from(served.port, "127.0.0.3")
        await other.handshake(origin="other.localdomain")
        await other.send(ccr(hbh=7).encode())
        assert (await other.read())["Result-Code"] == 2001
        answers = [await greedy.read(timeout=30) for _ in range(count)]
        assert [a.hop_by_hop for a in answers if not a.is_request] == list(range(1, count + 1))
        await greedy.close()
        await other.close()
