"""The asyncio Diameter node: listeners, outgoing connections, timers and handlers around the sans-IO
`NodeCore`, which makes every protocol decision (``sigcore.diameter.core``). This module only moves bytes,
arms timers and runs handlers. Handlers are ``(request, ctx) -> answer``; plain functions run inline (they
must be quick), coroutine functions run as tasks started at once (`runtime.HandlerTask`), so a handler
may use ``asyncio.timeout``, ``TaskGroup``, ``current_task``, contextvars and cancellation.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sigcore.diameter.admission import AdmissionLimits
from sigcore.diameter.aio.connection import LISTEN_BACKLOG, Connection
from sigcore.diameter.aio.runtime import HandlerTask, start_handler
from sigcore.diameter.answers import Identity
from sigcore.diameter.capabilities import LocalCapabilities
from sigcore.diameter.constants import DisconnectCause
from sigcore.diameter.core import NodeCore
from sigcore.diameter.dictionary import Dictionary
from sigcore.diameter.errors import DiameterError
from sigcore.diameter.framing import FramingError
from sigcore.diameter.message import Message
from sigcore.diameter.peer import Peer, PeerPolicy
from sigcore.diameter.routing import RoutingHooks
from sigcore.failure_log import FailureLog

log = logging.getLogger("sigcore.diameter.node")

Handler = Callable[[Message, "RequestContext"], Message | Awaitable[Message]]
Tap = Callable[[str, Connection, bytes], None]
# Transport hooks (sigcore.diameter.transport): extra listeners (SCTP, TLS) and the outgoing dialer.
Dialer = Callable[["Node", "PeerSettings", Callable[[Connection], None]], Awaitable[Any]]


failures = FailureLog(log)


def _log_handler_failure(request: Message, err: Exception) -> None:
    """A handler raised (it is answered 5012): the first of each kind with its traceback, then rate-limited."""
    failures.failed(f"handler-{request.app_id}-{request.code}-{type(err).__name__}", err,
                    "handler for command %d failed (answered 5012)", request.code)


@dataclass(slots=True)
class PeerSettings:
    name: str
    address: str = "127.0.0.1"
    port: int = 3868
    mode: str = "accept"  # "connect": we initiate and reconnect after Tc
    transport: str = "tcp"
    realm: str | None = None


@dataclass(slots=True)
class NodeSettings:
    identity: Identity
    listen: list[tuple[str, int]] = field(default_factory=lambda: [("127.0.0.1", 3868)])
    peers: list[PeerSettings] = field(default_factory=list)
    allow: list[str] = field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])
    policy: PeerPolicy = field(default_factory=PeerPolicy)
    request_timeout: float = 10.0
    relay: bool = False  # a routing agent advertises the Relay application
    server_ssl: ssl.SSLContext | None = None
    client_ssl: ssl.SSLContext | None = None
    # Extra listeners, each with ``async open(node) -> server`` (``close``/``wait_closed``/``sockets``)
    listeners: list[Any] = field(default_factory=list)
    # Opens the connection to a configured peer and calls ``on_made(conn)``; None = plain create_connection
    dialer: Dialer | None = None
    #: What this node decodes and validates with; None = the built-in ``DICTIONARY``
    dictionary: Dictionary | None = None
    #: Bounds on connections without a CER yet (`sigcore.diameter.admission`)
    limits: AdmissionLimits = field(default_factory=AdmissionLimits)
    #: SO_REUSEPORT on the TCP listeners: several worker processes accept on one port (``run.workers``)
    reuse_port: bool = False

    @classmethod
    def from_config(cls, cfg: Any) -> NodeSettings:
        """From ``sigcore.config.Config``."""
        from sigcore.config import split_host_port

        d = cfg.diameter
        t = d.timers
        ips = d.host_ip_addresses or sorted({split_host_port(x, 3868)[0] for x in d.listen} - {"0.0.0.0", "::"})
        settings = cls(
            identity=Identity(d.origin_host, d.origin_realm, ips or ["127.0.0.1"], d.vendor_id,
                              d.product_name, d.firmware_revision),
            listen=[split_host_port(x, 3868) for x in d.listen],
            peers=[PeerSettings(p.name, p.address, p.port, p.mode, p.transport, p.realm) for p in d.peers],
            allow=list(d.allow),
            policy=PeerPolicy(tw=t.tw, tc=t.tc, cer_timeout=t.cer_timeout, dpa_timeout=t.dpa_timeout),
            request_timeout=t.request_timeout,
            limits=AdmissionLimits(d.limits.pre_cer_connections, d.limits.pre_cer_per_address),
        )
        if d.dictionaries:
            from sigcore.diameter.dictionary import load_with

            settings.dictionary = load_with(d.dictionaries)
        if d.transport != "tcp" or d.tls.listen or d.tls.cert or any(p.transport != "tcp" for p in d.peers):
            from sigcore.diameter.transport.endpoints import configure

            configure(settings, cfg)
        return settings


@dataclass(slots=True)
class RequestContext:
    node: Node
    peer: Peer
    conn: Connection

    @property
    def dictionary(self) -> Dictionary:
        """The node's dictionary: build and read AVPs of applications loaded from outside with it."""
        return self.node.dictionary


class Node:
    """The asyncio adapter: it implements the core's `Output` (``write``, ``handle``, ``dial``...)."""

    def __init__(self, settings: NodeSettings) -> None:
        self.settings = settings
        self.identity = settings.identity
        self.core = NodeCore(settings.identity, self, dictionary=settings.dictionary, policy=settings.policy,
                             configured={p.name: p.mode == "connect" for p in settings.peers},
                             allow=settings.allow, request_timeout=settings.request_timeout, relay=settings.relay,
                             limits=settings.limits)
        self.dictionary: Dictionary = self.core.dictionary
        self.handlers = self.core.handlers
        self.app_vendors = self.core.app_vendors
        self.error_avps = self.core.error_avps
        self.peers = self.core.peers
        self.routing: RoutingHooks = self.core.hooks
        self._async_handlers: set[tuple[int, int]] = set()
        self.peer_settings = {p.name.lower(): p for p in settings.peers}
        self.connections: set[Connection] = set()
        self.taps: list[Tap] = []
        self.on_peer_change: Callable[[Peer], None] | None = None
        #: ``await fallback(msg, peer, timeout)`` for our request no open peer of this process can take
        #: (`sigcore.workers.relay`: the worker holding the peer's connection sends it); None: 3002 raised
        self.fallback: Callable[[Message, str | None, float], Awaitable[Message]] | None = None
        self._servers: list[Any] = []
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._relay_timer: asyncio.TimerHandle | None = None
        self._pending: dict[int, asyncio.Future[Message]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        #: The coroutine handlers still running (`runtime.HandlerTask`); Node.stop cancels them
        self.handler_tasks: set[HandlerTask] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def capabilities(self) -> LocalCapabilities | None:
        return self.core.capabilities

    @property
    def on_answer_sent(self) -> Callable[[Message, Message], None] | None:
        return self.core.on_answer_sent

    @on_answer_sent.setter
    def on_answer_sent(self, fn: Callable[[Message, Message], None] | None) -> None:
        self.core.on_answer_sent = fn

    # --- configuration -------------------------------------------------------------------------
    def register(self, app_id: int, command: int | str, handler: Handler, vendor: int = 0) -> None:
        """Serve (application, command) with ``handler``; the application is advertised in CER/CEA.
        ``command`` is a code or a request name in the node's dictionary ("AIR", "Authentication-Information")."""
        key = self.core.register(app_id, command, handler, vendor)
        if inspect.iscoroutinefunction(handler):
            self._async_handlers.add(key)
        else:
            self._async_handlers.discard(key)

    def advertise(self, app_id: int, vendor: int = 0) -> None:
        """Advertise an application we only originate requests for (e.g. a client)."""
        self.core.advertise(app_id, vendor)

    # --- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.core.relay = self.settings.relay
        self.core.start(self._now())
        for host, port in self.settings.listen:
            server = await self._loop.create_server(lambda: Connection(self), host, port, reuse_address=True,
                                                    reuse_port=self.settings.reuse_port or None,
                                                    ssl=self.settings.server_ssl, backlog=LISTEN_BACKLOG)
            self._servers.append(server)
            log.info("diameter listening on %s:%s", host, port)
        for listener in self.settings.listeners:
            self._servers.append(await listener.open(self))
        self._arm_all()

    @property
    def bound_ports(self) -> list[int]:
        return [s.sockets[0].getsockname()[1] for s in self._servers if s.sockets]

    async def stop(self, cause: DisconnectCause = DisconnectCause.REBOOTING, wait: float | None = None) -> None:
        """Stop gracefully, then close everything: no new connection is accepted; what was in flight is
        finished first, then the clients get DPR, the peers we relay or send requests to once the clients are
        gone and their answers are in, and after each DPA the connection stays until the answers in flight on
        it are exchanged (`NodeCore.stop`); within ``wait`` seconds (by default the request timeout, then the
        DPA timeout for the last DPRs)."""
        for server in self._servers:
            server.close()
        now = self._now()
        grace = self.settings.request_timeout if wait is None else wait
        self.core.stop(now, cause, grace)
        taken = list(self.handler_tasks)  # the core finishes what was taken before it sends any DPR
        deadline = now + (grace + self.settings.policy.dpa_timeout if wait is None else wait)
        while not self.core.drain(self._now(), all(t.done() for t in taken)) and self._now() < deadline:
            self._arm_all()
            await asyncio.sleep(0.02)
        for conn in list(self.connections):
            conn.close()
        for h in self._timers.values():
            h.cancel()
        self._timers.clear()
        if self._relay_timer is not None:
            self._relay_timer.cancel()
            self._relay_timer = None
        for t in list(self._tasks):
            t.cancel()
        me: object = asyncio.current_task()  # a HandlerTask when a handler stops the node
        for task in [t for t in self.handler_tasks if t is not me]:  # a handler may call stop() itself
            task.cancel()
        give_up = self._now() + 1.0  # one waiting on a batch ends when the batch does
        while any(t is not me for t in self.handler_tasks) and self._now() < give_up:
            await asyncio.sleep(0.01)
        self.handler_tasks.clear()
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ConnectionError("node stopped"))
        self._pending.clear()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    # --- timers --------------------------------------------------------------------------------
    def _now(self) -> float:
        loop = self._loop or asyncio.get_running_loop()
        return loop.time()

    def _arm_all(self) -> None:
        for peer in list(self.core.peers.values()):
            self._arm(peer)

    def _arm(self, peer: Peer) -> None:
        """Have the loop call back by the peer's next timer. Every message moves the watchdog time later, so
        a timer already set to fire at or before it stays: firing early is harmless (``handle_timer`` acts
        only on what is due, and ``_on_timer`` arms again), and replacing it per message would cost a
        cancelled TimerHandle and a heap push for every request."""
        when = peer.next_timer()
        old = self._timers.get(peer.name)
        if old is not None:
            if when is not None and old.when() <= when:
                return
            old.cancel()
            del self._timers[peer.name]
        if when is not None and self._loop is not None:
            self._timers[peer.name] = self._loop.call_at(when, self._on_timer, peer)

    def _on_timer(self, peer: Peer) -> None:
        self._timers.pop(peer.name, None)
        self.core.peer_timer(peer, self._now())
        self._arm(peer)

    def relay_deadline(self, when: float) -> None:
        old = self._relay_timer
        if old is not None:
            if old.when() <= when:
                return
            old.cancel()
        loop = self._loop or asyncio.get_running_loop()
        self._relay_timer = loop.call_at(when, self._on_relay_timer)

    def _on_relay_timer(self) -> None:
        self._relay_timer = None
        self.core.relay_timer(self._now())

    # --- Output: what the core asks for --------------------------------------------------------
    def write(self, conn: Connection, data: bytes | bytearray) -> None:
        if self.taps:
            self._tap("out", conn, bytes(data))
        conn.send_bytes(data)

    def disconnect(self, conn: Connection) -> None:
        conn.close()

    def dial(self, peer: Peer) -> None:
        self._spawn(self._connect(peer))

    def peer_changed(self, peer: Peer, up: bool, reason: str) -> None:
        if up:
            log.info("peer %s open (%s), applications %s", peer.name, peer.state.value, sorted(peer.applications))
        else:
            log.info("peer %s down: %s", peer.name, reason)
        if self.on_peer_change:
            self.on_peer_change(peer)

    def answer_received(self, hop_by_hop: int, answer: Message) -> None:
        fut = self._pending.pop(hop_by_hop, None)
        if fut is not None and not fut.done():
            fut.set_result(answer)

    def request_failed(self, hop_by_hop: int, reason: str) -> None:
        fut = self._pending.pop(hop_by_hop, None)
        if fut is not None and not fut.done():
            fut.set_exception(ConnectionError(reason))

    def handling(self, conn: Connection) -> bool:
        return conn.serving > 0

    def handle(self, handler: Any, request: Message, peer: Peer, conn: Connection) -> None:
        ctx = RequestContext(self, peer, conn)
        if (request.app_id, request.code) in self._async_handlers:
            conn.serving += 1
            task = start_handler(self._run_async(handler, request, ctx), self._loop or asyncio.get_running_loop(),
                                 self.handler_tasks.discard)
            if not task.done():
                self.handler_tasks.add(task)
            return
        try:
            ans = handler(request, ctx)
        except Exception as err:
            if not isinstance(err, DiameterError):
                _log_handler_failure(request, err)
            self.core.handler_failed(conn, request, err)
            return
        self.core.answer(conn, request, ans)

    async def _run_async(self, handler: Handler, msg: Message, ctx: RequestContext) -> None:
        """The body of a request's HandlerTask. Cancelled (``Node.stop``), the request goes unanswered."""
        try:
            ans = await handler(msg, ctx)  # type: ignore[misc]
        except Exception as err:
            if not isinstance(err, DiameterError):
                _log_handler_failure(msg, err)
            self.core.handler_failed(ctx.conn, msg, err)
            return
        finally:
            ctx.conn.serving -= 1
        self.core.answer(ctx.conn, msg, ans)

    # --- connections ---------------------------------------------------------------------------
    async def _connect(self, peer: Peer) -> None:
        ps = self.peer_settings.get(peer.name.lower())
        assert self._loop is not None and ps is not None

        def made(conn: Connection) -> None:
            conn.peer = peer

        try:
            if self.settings.dialer is not None:
                await self.settings.dialer(self, ps, made)
            else:
                await self._loop.create_connection(
                    lambda: Connection(self, initiated=True, on_made=made), ps.address, ps.port,
                    ssl=self.settings.client_ssl, server_hostname=ps.name if self.settings.client_ssl else None)
        except (OSError, ssl.SSLError) as err:
            log.info("connect to %s (%s:%s) failed: %s", peer.name, ps.address, ps.port, err)
            self.core.connect_failed(peer, self._now(), str(err))
            self._arm(peer)
            return
        conn = next((c for c in self.connections if c.peer is peer and c.initiated and c is not peer.conn
                     and c is not peer.i_conn), None)
        if conn is not None:
            self.core.connected(peer, conn, self._now())
            self._arm(peer)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- inbound -------------------------------------------------------------------------------
    def on_framing_error(self, conn: Connection, err: FramingError) -> None:
        self.core.framing_error(conn, err.header, str(err))

    def on_accepted(self, conn: Connection) -> None:
        """An accepted connection: refused at once beyond the limits, else closed if no CER by the deadline."""
        now = self._now()
        if not self.core.accepted(conn, now):
            conn.abort()  # a reset: cheaper than a graceful close, and the stranger has nothing to say
            return
        conn.limit_before_cer(self.core.admission.limits.pre_cer_message)
        loop = self._loop or asyncio.get_running_loop()
        # from the TCP accept: a TLS handshake's time counts (asyncio's clock is time.monotonic)
        deadline = min(now, conn.accepted_at) + self.settings.policy.cer_timeout
        conn.cer_timer = loop.call_at(deadline, lambda: self.core.cer_deadline(conn, self._now()))

    def on_frame(self, conn: Connection, frame: bytes) -> None:
        if self.taps:
            self._tap("in", conn, frame)
        self.core.frame(conn, frame, self._now())

    def on_read_done(self, conn: Connection) -> None:
        """After the frames of one read: the peer's timers armed once per read, not per message (no timer
        fires in between: the read is one loop callback)."""
        peer = conn.peer
        if peer is not None:
            if conn.cer_timer is not None:
                conn.cer_done()
            self._arm(peer)

    def on_connection_lost(self, conn: Connection) -> None:
        self.core.connection_lost(conn, self._now())
        if conn.peer is not None:
            self._arm(conn.peer)

    def _tap(self, direction: str, conn: Connection, data: bytes) -> None:
        for tap in self.taps:
            try:
                tap(direction, conn, data)
            except Exception:  # a mirror must never break signalling
                log.debug("tap failed", exc_info=True)

    # --- outbound requests ---------------------------------------------------------------------
    def open_peers(self, app_id: int | None = None) -> list[Peer]:
        return self.core.open_peers(app_id)

    def select_peer(self, msg: Message, peer_name: str | None = None) -> Peer:
        return self.core.select_peer(msg, peer_name)

    async def request(self, msg: Message, peer: str | None = None, timeout: float | None = None) -> Message:
        """Send a request and wait for its answer (matched by hop-by-hop id on the connection it went on)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Message] = loop.create_future()
        try:
            target = self.core.request(msg, peer)
        except DiameterError:  # no open peer here for it: another worker process may hold the connection
            if self.fallback is None:
                raise
            return await self.fallback(msg, peer, timeout or self.settings.request_timeout)
        hbh = msg.hop_by_hop
        self._pending[hbh] = fut
        self._arm(target)
        try:
            async with asyncio.timeout(timeout or self.settings.request_timeout):
                return await fut
        finally:
            self._pending.pop(hbh, None)
            self.core.forget(hbh)
