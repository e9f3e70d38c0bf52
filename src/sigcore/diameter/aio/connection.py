"""One transport connection: bytes in and out, framing, and decoding. No protocol decisions here."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sigcore.diameter.aio import turn
from sigcore.diameter.framing import Framer, FramingError

if TYPE_CHECKING:
    from sigcore.diameter.aio.node import Node
    from sigcore.diameter.peer import Peer

log = logging.getLogger("sigcore.diameter.conn")


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

    def data_received(self, data: bytes) -> None:
        turn.run_scoped(self._received, data)  # the batch and the writes it causes run at its end, not turns later

    def _received(self, data: bytes) -> None:
        try:
            frames = self._framer.feed(data)
        except FramingError as err:
            self.node.on_framing_error(self, err)
            return
        for frame in frames:
            if self.closed:
                break
            self.frame_received(frame)

    def frame_received(self, frame: bytes) -> None:
        """One whole Diameter message; transports that must look at it first (TLS identity) override this."""
        self.node.on_frame(self, frame)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.node.connections.discard(self)
        self.node.on_connection_lost(self)

    # --- writing ---------------------------------------------------------------------------------
    def send_bytes(self, data: bytes | bytearray) -> None:
        if self.closed:
            return
        self._out.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            turn.defer(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._out and self.transport is not None and not self.closed:
            out = self._out
            self._out = []
            self.transport.write(out[0] if len(out) == 1 else b"".join(out))

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
