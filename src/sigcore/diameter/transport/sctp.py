"""Diameter over SCTP (RFC 6733 §2.1.1): one-to-one sockets, multi-homing, streams and PPID 46.

asyncio's own socket transports call ``send``/``recv``, which can neither choose a stream nor tell a
notification from data, so this module has its own small ``asyncio.Transport`` over ``sendmsg``/
``recvmsg`` (SCTP_SNDINFO / SCTP_RCVINFO ancillary data). It feeds the same ``Connection`` protocol as
TCP, so the peer state machine, watchdog and dispatch are unchanged.

Streams: each Diameter message is one SCTP message with PPID 46. Base-protocol requests (CER, DWR, DPR)
go on stream 0; application requests go on stream ``1 + crc32(Session-Id) mod (n-1)``, so requests are
spread over the streams while one session's messages stay in order; an answer goes back on the stream its
request came in on (remembered by hop-by-hop id).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import socket
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sigcore.diameter.constants import HEADER_LEN, MAX_MESSAGE_LEN
from sigcore.diameter.framing import Framer
from sigcore.diameter.message import peek_header
from sigcore.diameter.transport import sockopt as so

log = logging.getLogger("sigcore.diameter.sctp")

_SESSION_ID_AVP = 263
_RECV_SIZE = 65536
_ANC_SIZE = socket.CMSG_SPACE(64) if hasattr(socket, "CMSG_SPACE") else 128
_PENDING_ANSWERS = 65536  # hop-by-hop ids remembered for answer streams; the oldest are forgotten
_TRACE = 4096
#: Bytes queued (the kernel's send buffer full) past which the protocol is told to pause writing, and below
#: which it may resume: asyncio's defaults for its own transports. The node stops reading a peer's requests
#: while paused, so a peer that does not read its answers cannot grow the process.
HIGH_WATER = 64 * 1024
LOW_WATER = HIGH_WATER // 4
_PATH_TROUBLE = {"UNREACHABLE", "REMOVED", "POTENTIALLY_FAILED"}


@dataclass(slots=True)
class SctpOptions:
    """Per-socket SCTP settings; ``None`` keeps the kernel's default (net.sctp sysctls)."""

    streams: int = 8
    ppid: int = so.DIAMETER_PPID
    rto_initial_ms: int | None = None
    rto_min_ms: int | None = None
    rto_max_ms: int | None = None
    path_max_retrans: int | None = None  # retransmissions before a path is declared unreachable
    heartbeat_ms: int | None = None

    def apply(self, sock: socket.socket) -> None:
        so.set_streams(sock, self.streams, self.streams)
        so.enable_rcvinfo(sock)
        so.subscribe_events(sock)
        so.set_default_ppid(sock, self.ppid)
        sock.setsockopt(so.SOL_SCTP, so.SCTP_NODELAY, 1)
        if self.rto_initial_ms or self.rto_min_ms or self.rto_max_ms:
            so.set_rto(sock, self.rto_initial_ms or 0, self.rto_min_ms or 0, self.rto_max_ms or 0)
        if self.path_max_retrans or self.heartbeat_ms:
            so.set_path_params(sock, self.path_max_retrans or 0, self.heartbeat_ms or 0)


@dataclass(frozen=True, slots=True)
class Record:
    """One Diameter message as it crossed the socket: the stream and PPID the kernel reported/used."""

    stream: int
    ppid: int
    command: int
    is_request: bool
    hop_by_hop: int


def _session_id(msg: bytes) -> bytes | None:
    """The first AVP's payload when it is Session-Id (where RFC 6733 §8.8 puts it)."""
    if len(msg) < HEADER_LEN + 8 or int.from_bytes(msg[20:24], "big") != _SESSION_ID_AVP:
        return None
    length = int.from_bytes(msg[25:28], "big")
    return msg[28:HEADER_LEN + length]


class StreamPlan:
    """Which outbound stream each message takes (see the module docstring)."""

    def __init__(self, outbound: int) -> None:
        self.outbound = max(outbound, 1)
        self._answer_stream: collections.OrderedDict[int, int] = collections.OrderedDict()
        self._next = 0

    def request_arrived(self, hop_by_hop: int, stream: int) -> None:
        self._answer_stream[hop_by_hop] = stream
        if len(self._answer_stream) > _PENDING_ANSWERS:
            self._answer_stream.popitem(last=False)

    def stream_for(self, msg: bytes) -> int:
        header = peek_header(msg)
        if not header.is_request:
            return self._answer_stream.pop(header.hop_by_hop, 0)
        if header.app_id == 0 or self.outbound == 1:
            return 0
        session = _session_id(msg)
        if session is None:
            self._next += 1
            return 1 + self._next % (self.outbound - 1)
        return 1 + zlib.crc32(session) % (self.outbound - 1)


class SctpTransport(asyncio.Transport):
    """A connected one-to-one SCTP socket driven by the event loop's reader/writer callbacks."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, protocol: asyncio.Protocol,
                 options: SctpOptions) -> None:
        super().__init__()
        self._loop = loop
        self._sock = sock
        self._protocol = protocol
        self._options = options
        self._closing = False
        self._reading = True
        self._queue: collections.deque[tuple[bytes, int]] = collections.deque()
        self._queued = 0  # bytes in _queue
        self._low, self._high = LOW_WATER, HIGH_WATER
        self._writing_paused = False
        self._splitter = Framer()
        self._record = bytearray()
        self._record_info: tuple[int, int] = (0, options.ppid)
        status = so.status(sock)
        self.plan = StreamPlan(status.outbound_streams)
        self.inbound_streams = status.inbound_streams
        self.received: collections.deque[Record] = collections.deque(maxlen=_TRACE)
        self.sent: collections.deque[Record] = collections.deque(maxlen=_TRACE)
        self.notifications: collections.deque[so.Notification] = collections.deque(maxlen=_TRACE)
        self.on_notification: Callable[[so.Notification], None] | None = None
        self._extra = {"socket": sock, "sockname": sock.getsockname(), "peername": _peername(sock)}
        loop.add_reader(sock.fileno(), self._read_ready)
        protocol.connection_made(self)
        log.info("sctp association %s <-> %s, streams out=%d in=%d", so.local_addresses(sock),
                 so.peer_addresses(sock), status.outbound_streams, status.inbound_streams)

    # --- asyncio.Transport -----------------------------------------------------------------------
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "sctp_peer_addresses":
            return so.peer_addresses(self._sock)
        if name == "sctp_local_addresses":
            return so.local_addresses(self._sock)
        if name == "sctp_status":
            return so.status(self._sock)
        return self._extra.get(name, default)

    def is_closing(self) -> bool:
        return self._closing

    def is_reading(self) -> bool:
        return self._reading

    def pause_reading(self) -> None:
        if self._reading and not self._closing:
            self._reading = False
            self._loop.remove_reader(self._sock.fileno())

    def resume_reading(self) -> None:
        if not self._reading and not self._closing:
            self._reading = True
            self._loop.add_reader(self._sock.fileno(), self._read_ready)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        assert isinstance(protocol, asyncio.Protocol)
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def get_write_buffer_size(self) -> int:
        return self._queued

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._low, self._high

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        """As asyncio's transports: one limit given, the other follows (low = high / 4)."""
        if high is None:
            high = HIGH_WATER if low is None else 4 * low
        self._high, self._low = high, high // 4 if low is None else low
        if not 0 <= self._low <= self._high:
            raise ValueError(f"high ({self._high!r}) must be >= low ({self._low!r}) must be >= 0")
        self._flow_control()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Queue whole Diameter messages; each becomes one SCTP message on its planned stream."""
        if self._closing:
            return
        for msg in self._splitter.feed(bytes(data)):
            self._queue.append((msg, self.plan.stream_for(msg)))
            self._queued += len(msg)
        self._send_queued()

    def can_write_eof(self) -> bool:
        return False

    def close(self) -> None:
        """Graceful: send what is queued, then close (the kernel runs the SCTP SHUTDOWN)."""
        if self._closing:
            return
        self._closing = True
        self._loop.remove_reader(self._sock.fileno())
        if not self._queue:
            self._finish(None)

    def abort(self) -> None:
        self._queue.clear()
        self._queued = 0
        self._closing = True
        self._loop.remove_reader(self._sock.fileno())
        self._finish(None)

    # --- test and operations hooks -----------------------------------------------------------------
    def set_primary(self, host: str, port: int) -> None:
        so.set_primary(self._sock, host, port)

    # --- internals -------------------------------------------------------------------------------
    def _send_queued(self) -> None:
        ppid = self._options.ppid
        while self._queue:
            msg, stream = self._queue[0]
            try:
                self._sock.sendmsg([msg], [so.sndinfo_cmsg(stream, ppid)])
            except (BlockingIOError, InterruptedError):
                self._loop.add_writer(self._sock.fileno(), self._write_ready)
                self._flow_control()
                return
            except OSError as err:
                self._fatal(err)
                return
            self._queue.popleft()
            self._queued -= len(msg)
            header = peek_header(msg)
            self.sent.append(Record(stream, ppid, header.code, header.is_request, header.hop_by_hop))
        self._flow_control()
        if self._closing:
            self._finish(None)

    def _flow_control(self) -> None:
        """Tell the protocol to pause writing past the high-water mark, to resume at the low one."""
        if not self._writing_paused and self._queued > self._high and not self._closing:
            self._writing_paused = True
            self._protocol.pause_writing()
        elif self._writing_paused and self._queued <= self._low:
            self._writing_paused = False
            self._protocol.resume_writing()

    def _write_ready(self) -> None:
        self._loop.remove_writer(self._sock.fileno())
        self._send_queued()

    def _read_ready(self) -> None:
        try:
            data, ancdata, flags, _addr = self._sock.recvmsg(_RECV_SIZE, _ANC_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as err:
            self._fatal(err)
            return
        if flags & so.MSG_NOTIFICATION:
            self._notified(so.parse_notification(data))
            return
        if not data:
            self._closing = True
            self._loop.remove_reader(self._sock.fileno())
            self._finish(None)
            return
        info = so.parse_rcvinfo(ancdata)
        if not self._record and info is not None:
            self._record_info = info
        self._record += data
        if len(self._record) > MAX_MESSAGE_LEN:
            self._fatal(ConnectionError("SCTP message larger than any Diameter message"))
        elif flags & so.MSG_EOR:
            self._message_received(bytes(self._record))
            self._record.clear()

    def _message_received(self, msg: bytes) -> None:
        stream, ppid = self._record_info
        if len(msg) >= HEADER_LEN:
            header = peek_header(msg)
            self.received.append(Record(stream, ppid, header.code, header.is_request, header.hop_by_hop))
            if header.is_request:
                self.plan.request_arrived(header.hop_by_hop, stream)
        if ppid != self._options.ppid:
            log.debug("sctp message with PPID %d on stream %d (expected %d)", ppid, stream, self._options.ppid)
        self._protocol.data_received(msg)

    def _notified(self, note: so.Notification) -> None:
        self.notifications.append(note)
        if note.kind == "PEER_ADDR_CHANGE":
            level = logging.WARNING if note.state in _PATH_TROUBLE else logging.INFO
            log.log(level, "sctp peer address %s:%s %s (error %d)", *(note.address or ("?", 0)), note.state,
                    note.error)
        else:
            log.info("sctp %s %s", note.kind, note.state)
        if self.on_notification is not None:
            self.on_notification(note)

    def _fatal(self, exc: BaseException) -> None:
        log.info("sctp association error: %s", exc)
        self._queue.clear()
        self._closing = True
        self._loop.remove_reader(self._sock.fileno())
        self._finish(exc if isinstance(exc, Exception) else None)

    def _finish(self, exc: Exception | None) -> None:
        if self._sock.fileno() < 0:
            return
        self._loop.remove_writer(self._sock.fileno())
        self._sock.close()
        self._loop.call_soon(self._protocol.connection_lost, exc)


def _peername(sock: socket.socket) -> tuple[str, int]:
    try:
        return so.status(sock).primary
    except OSError:
        return ("?", 0)


def _new_socket(addresses: list[str], port: int, options: SctpOptions, reuse_port: bool = False) -> socket.socket:
    family = socket.AF_INET6 if ":" in addresses[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, so.SOL_SCTP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:  # several workers on one endpoint: the kernel spreads the associations over them
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        options.apply(sock)
        so.bind_addresses(sock, addresses, port)
    except BaseException:
        sock.close()
        raise
    return sock


class SctpServer:
    """A listening multi-homed SCTP socket; quacks like ``asyncio.Server`` for ``Node``."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket,
                 protocol_factory: Callable[[], asyncio.Protocol], options: SctpOptions) -> None:
        self._loop = loop
        self._sock = sock
        self._factory = protocol_factory
        self._options = options
        self.transports: list[SctpTransport] = []
        loop.add_reader(sock.fileno(), self._accept)

    @property
    def sockets(self) -> list[socket.socket]:
        return [self._sock] if self._sock.fileno() >= 0 else []

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return so.local_addresses(self._sock)

    def _accept(self) -> None:
        try:
            conn, _addr = self._sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as err:
            log.warning("sctp accept failed: %s", err)
            return
        conn.setblocking(False)
        try:
            transport = SctpTransport(self._loop, conn, self._factory(), self._options)
        except OSError as err:  # the association died between accept and our first getsockopt
            log.info("sctp association lost at accept: %s", err)
            conn.close()
            return
        self.transports = [t for t in self.transports if not t.is_closing()] + [transport]

    def close(self) -> None:
        if self._sock.fileno() >= 0:
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()

    async def wait_closed(self) -> None:
        return None


async def start_server(protocol_factory: Callable[[], asyncio.Protocol], addresses: list[str], port: int,
                       options: SctpOptions | None = None, backlog: int = 64, reuse_port: bool = False) -> SctpServer:
    """Listen on every one of ``addresses`` (one association endpoint, multi-homed) at ``port``; with
    ``reuse_port``, beside other processes' listeners on the same endpoint (``sigcore run --workers``)."""
    options = options or SctpOptions()
    sock = _new_socket(addresses, port, options, reuse_port)
    sock.listen(backlog)
    sock.setblocking(False)
    log.info("diameter listening on sctp %s", so.local_addresses(sock))
    return SctpServer(asyncio.get_running_loop(), sock, protocol_factory, options)


async def connect(protocol_factory: Callable[[], asyncio.Protocol], remote: list[str], port: int,
                  local: list[str] | None = None, options: SctpOptions | None = None) -> SctpTransport:
    """Associate with ``remote[0]:port`` from ``local`` (bound with bindx); the peer's other addresses
    come from its INIT-ACK. The next remote address is tried when one does not answer."""
    options = options or SctpOptions()
    loop = asyncio.get_running_loop()
    last: OSError | None = None
    for address in remote:
        sock = _new_socket(local or (["::"] if ":" in address else ["0.0.0.0"]), 0, options)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, (address, port))
            return SctpTransport(loop, sock, protocol_factory(), options)
        except OSError as err:
            sock.close()
            last = err
    raise last or OSError("no SCTP address to connect to")
