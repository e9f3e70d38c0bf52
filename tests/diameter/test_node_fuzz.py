"""The node under a flood of mutated frames on one TCP connection: every request gets exactly one
answer (RFC 6733 §7: a malformed request is answered, an unknown answer is discarded), the node keeps
serving, and no task or pending state leaks."""

from __future__ import annotations

import asyncio
import random

import pytest
from nodefixtures import start_server
from rawpeer import RawPeer, ccr, ccr_avps

from sigcore.diameter import DICTIONARY as D

FRAMES = 100_000
DPR = 282


def seeds() -> list[bytes]:
    grouped = D.build("Multiple-Services-Credit-Control", [
        ("Requested-Service-Unit", [("CC-Time", 60), ("CC-Total-Octets", 1000)]),
        ("Rating-Group", 1),
    ])
    return [ccr().encode(), ccr(avps=[*ccr_avps(), grouped]).encode()]


def mutate(rng: random.Random, frame: bytes) -> bytes:
    """Flip up to 4 bytes anywhere but the length (1..3) and the hop-by-hop/end-to-end ids (12..19),
    so the stream stays framed and every answer can be matched to its request."""
    out = bytearray(frame)
    positions = [0, 4, 5, 6, 7, 8, 9, 10, 11, *range(20, len(out))]
    for _ in range(rng.randint(1, 4)):
        out[rng.choice(positions)] = rng.randrange(256)
    if int.from_bytes(out[5:8], "big") == DPR:  # a DPR would end the connection on purpose
        out[5:8] = frame[5:8]
    return bytes(out)


@pytest.mark.slow
async def test_node_survives_100k_mutated_frames_on_one_connection() -> None:
    served = await start_server()
    tasks_before = len(asyncio.all_tasks())
    rng = random.Random(6733)
    base = seeds()
    expected: set[int] = set()
    try:
        peer = await RawPeer.connect(served.port)
        assert (await peer.handshake())["Result-Code"] == 2001
        answered: set[int] = set()

        async def reader() -> None:
            while len(answered) < len(expected) or not writer_done.is_set():
                msg = await peer.read(timeout=30)
                assert not msg.is_request or msg.code == 280  # only answers (or our own watchdog)
                assert msg.hop_by_hop not in answered, "one answer per request"
                answered.add(msg.hop_by_hop)

        writer_done = asyncio.Event()
        read_task = asyncio.create_task(reader())
        batch = bytearray()
        for i in range(1, FRAMES + 1):
            frame = bytearray(mutate(rng, base[i % len(base)]))
            frame[12:16] = i.to_bytes(4, "big")
            if frame[4] & 0x80:
                expected.add(i)
            batch += frame
            if i % 500 == 0:
                await peer.send(bytes(batch))
                batch.clear()
        writer_done.set()
        await asyncio.wait_for(read_task, 120)
        assert answered == expected
        assert len(expected) > FRAMES // 3  # the mutations did not simply turn everything into answers

        # Still serving normally on the same connection (skipping a watchdog DWR if Tw ran out meanwhile).
        await peer.send(ccr(hbh=0xFFFFFFF0).encode())
        ok = await peer.read()
        while ok.is_request and ok.code == 280:
            ok = await peer.read()
        assert ok.hop_by_hop == 0xFFFFFFF0 and ok["Result-Code"] == 2001
        await peer.close()
    finally:
        await served.node.stop(wait=0.5)
    await asyncio.sleep(0.05)
    assert not served.node._pending and not served.node._tasks and not served.node.handler_tasks
    assert len(asyncio.all_tasks()) <= tasks_before
