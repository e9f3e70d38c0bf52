"""One transport connection: bytes in and out, framing, and decoding. No protocol decisions here."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sigcore.diameter.aio import turn
from sigcore.diameter.constants import MAX_MESSAGE_LEN
from sigcore.diameter.framing import Framer, FramingError

if TYPE_CHECKING:
    from sigcore.diameter.aio.node import Node
    from sigcore.diameter.peer import Peer

log = logging.getLogger("sigcore.diameter.conn")
#: Listeners' accept queue. asyncio's default (100) overflows under a burst of connects: the kernel then
#: holds connections the client believes open, unaccepted for seconds and out of reach of the CER
#: deadline. The kernel caps it (net.core.somaxconn).
LISTEN_BACKLOG = 4096
#: How long (seconds) a read may hold the writes it caused, at least. The frames of one read are processed
#: before their writes leave (one ``send`` per destination); in a long read the first answers would wait
#: for the last frame, and through a relay each message would wait for its whole burst, twice. Past the
#: hold the queued writes leave at once and coalescing starts again (docs/performance.md).
WRITE_HOLD = 40e-6
#: ... and at most this many sends' worth: a ``send`` on loopback runs the receiver's TCP path and wake-up
#: in the sender, so every early send is CPU the other frames wait for; where sends are dear (a slower or
#: busier machine) the hold grows with them, instead of multiplying them.
HOLD_SENDS = 4


class SendCost:
    """The process's moving average of one ``send``'s duration (seconds), from the writes it makes."""

    average = WRITE_HOLD / HOLD_SENDS

    @classmethod
    def add(cls, seconds: float) -> None:
        cls.average += (seconds - cls.average) / 16

    @classmethod
    def hold(cls) -> float:
        return max(WRITE_HOLD, HOLD_SENDS * cls.average)


class Connection(asyncio.Protocol):
    """An asyncio protocol feeding whole frames to the node. Writes are coalesced: what is sent while one read
    is handled (answers, and those of the database batch it triggers) leaves in one ``send`` at its end."""

    def __init__(self, node: Node, initiated: bool = False, on_made: Callable[[Connection], None] | None = None,
                 transport_name: str = "tcp") -> None:
        self.node = node
        self.initiated = initiated
        self.transport_name = transport_name
        self.peer: Peer | None = None
        self.remote: tuple[Any, ...] = ("?", 0)
        self.local: tuple[Any, ...] = ("?", 0)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._framer = Framer()
        self._out: list[bytes | bytearray] = []
        self._flush_scheduled = False
        self._on_made = on_made
        self.tls_peer_cert: Any = None
        #: while accepted and without a CER: the timer closing it at the CER deadline (`Node.on_accepted`)
        self.cer_timer: asyncio.TimerHandle | None = None
        self.reading_paused = False
        #: requests from this connection whose coroutine handler has yet to answer (`Node.handling`)
        self.serving = 0
        #: when the transport accepted it (the protocol is made then, before any TLS handshake), on the
        #: loop's clock: the CER deadline counts from here
        self.accepted_at = time.monotonic()

    def __repr__(self) -> str:
        return f"<Connection {self.remote[0]}:{self.remote[1]} peer={self.peer.name if self.peer else None}>"

    # --- asyncio.Protocol ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.remote = transport.get_extra_info("peername") or ("?", 0)
        self.local = transport.get_extra_info("sockname") or ("?", 0)
        self.tls_peer_cert = transport.get_extra_info("peercert")
        self.node.connections.add(self)
        if self._on_made is not None:
            self._on_made(self)
        if not self.initiated:
            self.node.on_accepted(self)

    def limit_before_cer(self, max_message: int) -> None:
        """A stranger may buffer one small message (its CER); `cer_done` lifts the bound."""
        self._framer.max_len = max_message

    def cer_done(self) -> None:
        self._framer.max_len = MAX_MESSAGE_LEN
        if self.cer_timer is not None:
            self.cer_timer.cancel()
            self.cer_timer = None

    def data_received(self, data: bytes) -> None:
        turn.run_scoped(self._received, data)  # the batch and the writes it causes run at its end, not turns later

    def _received(self, data: bytes) -> None:
        try:
            frames = self._framer.feed(data)
        except FramingError as err:
            self.node.on_framing_error(self, err)
            return
        clock = time.perf_counter
        since = clock()
        hold = SendCost.hold()
        for frame in frames:
            if self.closed:
                break
            self.frame_received(frame)
            if clock() - since > hold:
                turn.send_writes()
                since = clock()
        if frames:
            self.node.on_read_done(self)

    def frame_received(self, frame: bytes) -> None:
        """One whole Diameter message; transports that must look at it first (TLS identity) override this."""
        self.node.on_frame(self, frame)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.cer_timer is not None:
            self.cer_timer.cancel()
            self.cer_timer = None
        self.node.connections.discard(self)
        self.node.on_connection_lost(self)

    # --- backpressure: a peer that does not read its answers must not make us read more requests ------
    def pause_writing(self) -> None:
        """The transport's write buffer passed its high-water mark: stop reading requests until it drains.
        Without this a peer pipelining requests and never reading its answers grows the process without
        bound (every request read is computed and its answer queued)."""
        if self.transport is not None and not self.reading_paused:
            self.reading_paused = True
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and self.reading_paused:
            self.reading_paused = False
            if not self.closed:
                self.transport.resume_reading()

    # --- writing ---------------------------------------------------------------------------------
    def send_bytes(self, data: bytes | bytearray) -> None:
        if self.closed:
            return
        self._out.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            turn.defer_write(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._out and self.transport is not None and not self.closed:
            out = self._out
            self._out = []
            started = time.perf_counter()
            self.transport.write(out[0] if len(out) == 1 else b"".join(out))
            SendCost.add(time.perf_counter() - started)

    def close(self) -> None:
        """Close after writing what is queued."""
        if self.closed:
            return
        self._flush()
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
