"""One load-generating Diameter connection, and the percentile helper the reports use."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sigcore.diameter.dictionary import DICTIONARY as D

_RESULT_CODE = D.avp("Result-Code").code.to_bytes(4, "big")  # the code word that starts the AVP's header
_EXPERIMENTAL_CODE = D.avp("Experimental-Result-Code").code.to_bytes(4, "big")


def pct(sorted_values: list[float], p: float) -> float:
    """The ``p``-th percentile of sorted seconds, in milliseconds (nan when empty)."""
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))] * 1000


def result_code(body: bytes) -> int:
    """The Result-Code (or Experimental-Result-Code) of an answer body, 0 if none: a byte search, not a
    decode, so that the generator stays cheap."""
    i = body.find(_RESULT_CODE)
    if i < 0 or i & 3:
        i = body.find(_EXPERIMENTAL_CODE)
    if i < 0:
        return 0
    return int.from_bytes(body[i + 8:i + 12], "big")


_HEADER = struct.Struct(">I4I")
_HEADER_IDS = struct.Struct(">II")
_DWR, _DPR = (280).to_bytes(3, "big"), (282).to_bytes(3, "big")  # command codes as in header bytes 5-7
_RESULT_2001 = D.build("Result-Code", 2001).to_bytes()
_DISCONNECT_CAUSE = D.build("Disconnect-Cause", 0).to_bytes()  # REBOOTING
_ORIGIN_CODES = frozenset({D.avp("Origin-Host").code, D.avp("Origin-Realm").code})


def _origin_avps(cer: bytes) -> bytes:
    """The Origin-Host and Origin-Realm AVPs of our CER, as they are, for DWA and DPR."""
    out = []
    off = 20
    while off + 8 <= len(cer):
        code = int.from_bytes(cer[off:off + 4], "big")
        length = int.from_bytes(cer[off + 5:off + 8], "big")
        if code in _ORIGIN_CODES:
            out.append(cer[off:off + ((length + 3) & ~3)])
        off += (length + 3) & ~3
    return b"".join(out)


@dataclass(slots=True)
class ConnectionResult:
    #: per request kind (the index into the kinds the templates name), the latencies in seconds
    latencies: dict[int, list[float]] = field(default_factory=dict)
    results: dict[int, int] = field(default_factory=dict)
    late: list[tuple[float, float]] = field(default_factory=list)
    sent: int = 0
    unanswered: int = 0
    duplicates: int = 0  # answers to no request in flight (a second answer to one request, or a stray)
    lost: bool = False  # the node closed the connection (or it broke) before the run's answers were in
    left: bool = False  # ... after a DPR of its own (answered; the answers then in flight still counted)
    #: with ``trace``: (send time, latency, Result-Code) of every answer
    trace: list[tuple[float, float, int]] | None = None


async def drive(port: int, cer: bytes, templates: list[tuple[int, bytearray]], window: int, seconds: float,
                rate: float | None = None, late_after: float | None = None, host: str = "127.0.0.1",
                on_answer: Callable[[], None] | None = None, answer_timeout: float = 60.0,
                trace: bool = False) -> ConnectionResult:
    """CER, then the pre-encoded ``templates`` ((kind, frame) pairs) in turn with at most ``window`` in flight
    for ``seconds``, paced to ``rate`` per second when given (open loop); then waits for the answers still
    due (at most ``answer_timeout``). ``late_after``: answers slower than that are kept as (send time,
    latency) in ``late`` (`time.perf_counter` is monotonic system-wide, so processes' lists merge)."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    writer.write(cer)
    async with asyncio.timeout(10):
        head = await reader.readexactly(20)
        body = await reader.readexactly(int.from_bytes(head[1:4], "big") - 20)
    if (rc := result_code(body)) != 2001:
        writer.close()
        raise ConnectionError(f"CER answered with Result-Code {rc}")
    out = ConnectionResult(trace=[] if trace else None)
    origin_avps = _origin_avps(cer)
    sent: dict[int, tuple[float, int]] = {}
    done = asyncio.Event()
    free = asyncio.Semaphore(window)
    results = out.results

    async def read() -> None:
        try:
            await answers()
        except (asyncio.IncompleteReadError, ConnectionError):
            out.lost = True
        finally:  # wake the sender if it waits for a window slot: nothing will free one any more
            for _ in range(window):
                free.release()

    async def end_of_run() -> None:  # a window no answer frees (a frozen node) must not outlive the run
        await asyncio.sleep(max(0.0, stop_at - time.perf_counter()))
        for _ in range(window):
            free.release()

    async def answers() -> None:
        while True:
            head = await reader.readexactly(20)
            body = await reader.readexactly(int.from_bytes(head[1:4], "big") - 20)
            if head[4] & 0x80:  # a request from the node: answer a DWR so that a long run keeps the peer
                if head[5:8] == _DWR:
                    writer.write(_answer_to(head, origin_avps))
                elif head[5:8] == _DPR:  # the node is stopping: DPA, and no more requests on this connection;
                    writer.write(_answer_to(head, origin_avps))  # the answers in flight may still come
                    out.lost = out.left = True
                    for _ in range(window):  # wake the sender if it waits for a window slot: it stops
                        free.release()
                    if not sent:
                        return
                continue
            if head[5:8] == _DPR:  # our DPR's answer
                return
            entry = sent.pop(int.from_bytes(head[12:16], "big"), None)
            if entry is None:
                out.duplicates += 1
                continue
            t0, kind = entry
            latency = time.perf_counter() - t0
            out.latencies.setdefault(kind, []).append(latency)
            if late_after is not None and latency > late_after:
                out.late.append((t0, latency))
            rc = result_code(body)
            results[rc] = results.get(rc, 0) + 1
            if out.trace is not None:
                out.trace.append((t0, latency, rc))
            free.release()
            if on_answer is not None:
                on_answer()
            if (done.is_set() or out.left) and not sent:
                return

    interval = 1.0 / rate if rate else 0.0
    stop_at = next_send = time.perf_counter()
    stop_at += seconds
    reading = asyncio.create_task(read())
    ending = asyncio.create_task(end_of_run())
    hbh = 0
    pack_into = struct.pack_into
    while time.perf_counter() < stop_at:
        await free.acquire()
        if interval:
            next_send += interval
            delay = next_send - time.perf_counter()
            if delay > 0.0005:
                await asyncio.sleep(delay)
        now = time.perf_counter()
        if now >= stop_at or reading.done() or out.left:  # the end of the run, the connection gone or going
            break
        hbh += 1
        kind, frame = templates[hbh % len(templates)]
        pack_into("!II", frame, 12, hbh, hbh)
        sent[hbh] = (now, kind)
        writer.write(bytes(frame))
    ending.cancel()
    out.sent = hbh
    done.set()
    if sent and not reading.done():
        try:
            async with asyncio.timeout(answer_timeout):
                await reading
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
    else:  # the reader must be gone before `_disconnect` reads the DPA: a stream has one reader at a time
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
    out.unanswered = len(sent)
    if out.left:
        writer.close()
    else:
        await _disconnect(reader, writer, origin_avps)
    return out


async def _disconnect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, origin_avps: bytes) -> None:
    """DPR (cause REBOOTING), wait a moment for the DPA, close: a relay keeps the peer's state otherwise and
    the next run, with the same Origin-Host, meets a peer it still considers open."""
    dpr = _HEADER.pack(1 << 24 | 20 + len(origin_avps) + 12, 0x80 << 24 | 282, 0, 0xFFFFFFFF, 0xFFFFFFFF)
    try:
        writer.write(dpr + origin_avps + _DISCONNECT_CAUSE)
        async with asyncio.timeout(1.0):
            while True:
                head = await reader.readexactly(20)
                await reader.readexactly(int.from_bytes(head[1:4], "big") - 20)
                if head[5:8] == _DPR:
                    break
    except (TimeoutError, OSError, asyncio.IncompleteReadError):
        pass
    writer.close()


def _answer_to(head: bytes, origin_avps: bytes) -> bytes:
    """A 2001 answer to the base-protocol request whose header is ``head`` (DWA, DPA)."""
    body = _RESULT_2001 + origin_avps
    return _HEADER.pack(1 << 24 | 20 + len(body), int.from_bytes(head[5:8], "big"), 0,
                        *_HEADER_IDS.unpack_from(head, 12)) + body
