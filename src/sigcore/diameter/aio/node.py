"""The asyncio Diameter node: listeners, outgoing connections, peers, dispatch and request tracking.

Everything protocol-shaped is decided by the sans-IO parts (codec, ``Peer``, ``routing``); this module
only moves bytes, runs timers and calls handlers. Handlers are ``(request, ctx) -> answer``; plain
functions run inline (they must be quick), coroutine functions start at once and resume
from their futures' callbacks (for database work, see ``_start_handler``).
"""

from __future__ import annotations

import asyncio
import inspect
import ipaddress
import logging
import ssl
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sigcore.diameter.aio.connection import Connection
from sigcore.diameter.answers import Identity, error_answer
from sigcore.diameter.application import resolve_command
from sigcore.diameter.capabilities import LocalCapabilities, make_cea
from sigcore.diameter.constants import FLAG_ERROR, FLAG_RETRANSMIT, AppId, Cmd, DisconnectCause, ResultCode
from sigcore.diameter.dictionary import DICTIONARY, Dictionary
from sigcore.diameter.errors import DecodeError, DiameterError
from sigcore.diameter.events import Connect, Deliver, Disconnect, PeerDown, PeerUp, Send
from sigcore.diameter.framing import FramingError
from sigcore.diameter.message import Message, new_end_to_end, next_hop_by_hop, peek_header
from sigcore.diameter.peer import Peer, PeerPolicy, State
from sigcore.diameter.routing import check_local_delivery

log = logging.getLogger("sigcore.diameter.node")
_ORIGIN_HOST = DICTIONARY.avp("Origin-Host").key
_DUP_CACHE_SIZE = 8192

Handler = Callable[[Message, "RequestContext"], Message | Awaitable[Message]]
Tap = Callable[[str, Connection, bytes], None]
# Transport hooks (sigcore.diameter.transport): extra listeners (SCTP, TLS) and the outgoing dialer.
Dialer = Callable[["Node", "PeerSettings", Callable[[Connection], None]], Awaitable[Any]]


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
        )
        if d.transport != "tcp" or d.tls.listen or d.tls.cert or any(p.transport != "tcp" for p in d.peers):
            from sigcore.diameter.transport.endpoints import configure

            configure(settings, cfg)
        return settings


@dataclass(slots=True)
class RequestContext:
    node: Node
    peer: Peer
    conn: Connection


class Node:
    def __init__(self, settings: NodeSettings) -> None:
        self.settings = settings
        self.identity = settings.identity
        self.dictionary = settings.dictionary or DICTIONARY
        self.handlers: dict[tuple[int, int], Handler] = {}
        #: Application-Id -> AVPs every error answer of that application carries (`Application.answer_avps`)
        self.error_avps: dict[int, tuple[Any, ...]] = {}
        self._async_handlers: set[tuple[int, int]] = set()
        self.app_vendors: dict[int, int] = {}
        self.peers: dict[str, Peer] = {}
        self.peer_settings = {p.name.lower(): p for p in settings.peers}
        self.connections: set[Connection] = set()
        self.taps: list[Tap] = []
        self.on_answer_sent: Callable[[Message, Message], None] | None = None
        self.on_peer_change: Callable[[Peer], None] | None = None
        self._allow = [ipaddress.ip_network(n, strict=False) for n in settings.allow]
        self._servers: list[Any] = []
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._pending: dict[tuple[int, int], asyncio.Future[Message]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._handlers_running: set[Coroutine[Any, Any, None]] = set()
        self._answered: OrderedDict[tuple[bytes, int], bytes] = OrderedDict()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.capabilities: LocalCapabilities | None = None

    # --- configuration -------------------------------------------------------------------------
    def register(self, app_id: int, command: int | str, handler: Handler, vendor: int = 0) -> None:
        """Serve (application, command) with ``handler``; the application is advertised in CER/CEA.
        ``command`` is a code or a request name in the node's dictionary ("AIR", "Authentication-Information")."""
        code = resolve_command(self.dictionary, app_id, command)
        self.handlers[(app_id, code)] = handler
        self.app_vendors.setdefault(app_id, vendor)
        if inspect.iscoroutinefunction(handler):
            self._async_handlers.add((app_id, code))
        else:
            self._async_handlers.discard((app_id, code))

    def advertise(self, app_id: int, vendor: int = 0) -> None:
        """Advertise an application we only originate requests for (e.g. a client)."""
        self.app_vendors.setdefault(app_id, vendor)

    def _capabilities(self) -> LocalCapabilities:
        apps = dict(self.app_vendors)
        if self.settings.relay:
            apps = {int(AppId.RELAY): 0}
        caps = LocalCapabilities(self.identity, auth_apps=apps)
        caps.supported_vendors = {v for v in self.app_vendors.values() if v}
        return caps

    # --- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.capabilities = self._capabilities()
        for host, port in self.settings.listen:
            server = await self._loop.create_server(lambda: Connection(self), host, port, reuse_address=True,
                                                    ssl=self.settings.server_ssl)
            self._servers.append(server)
            log.info("diameter listening on %s:%s", host, port)
        for listener in self.settings.listeners:
            self._servers.append(await listener.open(self))
        for ps in self.settings.peers:
            peer = self._peer(ps.name, initiate=ps.mode == "connect")
            if ps.mode == "connect":
                peer.start(self._now())
                self._run(peer)

    @property
    def bound_ports(self) -> list[int]:
        return [s.sockets[0].getsockname()[1] for s in self._servers if s.sockets]

    async def stop(self, cause: DisconnectCause = DisconnectCause.REBOOTING, wait: float | None = None) -> None:
        """DPR to every open peer, wait for their DPAs (bounded), then close everything."""
        now = self._now()
        closing = []
        for peer in self.peers.values():
            if peer.is_open:
                closing.append(peer)
            peer.stop(now, cause)
            self._run(peer)
        deadline = self._now() + (wait if wait is not None else self.settings.policy.dpa_timeout)
        while any(p.state is State.CLOSING for p in closing) and self._now() < deadline:
            await asyncio.sleep(0.02)
        for server in self._servers:
            server.close()
        for conn in list(self.connections):
            conn.close()
        for h in self._timers.values():
            h.cancel()
        self._timers.clear()
        for t in list(self._tasks):
            t.cancel()
        for coro in list(self._handlers_running):
            self._handlers_running.discard(coro)
            try:
                coro.close()  # GeneratorExit at its await: the request goes unanswered, as with a cancel
            except (RuntimeError, ValueError):  # the handler calling stop() itself is still executing
                pass
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ConnectionError("node stopped"))
        self._pending.clear()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    # --- peers ---------------------------------------------------------------------------------
    def _now(self) -> float:
        loop = self._loop or asyncio.get_running_loop()
        return loop.time()

    def _peer(self, name: str, initiate: bool) -> Peer:
        key = name.lower()
        peer = self.peers.get(key)
        if peer is None:
            s = self.settings.policy
            policy = PeerPolicy(s.tw, s.tc, s.cer_timeout, s.dpa_timeout, s.jitter, initiate, s.busy_backoff)
            assert self.capabilities is not None
            peer = Peer(name, self.capabilities, policy)
            self.peers[key] = peer
        return peer

    def _authorised(self, conn: Connection, origin_host: str) -> bool:
        """A configured peer by name, or an unconfigured one from an allowed network (else 3010)."""
        if origin_host.lower() in self.peer_settings:
            return True
        try:
            ip = ipaddress.ip_address(str(conn.remote[0]).split("%")[0])
        except ValueError:
            return False
        return any(ip in net for net in self._allow)

    def _run(self, peer: Peer) -> None:
        """Execute the peer's actions, then re-arm its timer."""
        for action in peer.drain():
            if isinstance(action, Send):
                self._send(action.conn, action.message)
            elif isinstance(action, Deliver):
                self._deliver(peer, action.conn, action.message)
            elif isinstance(action, Disconnect):
                if action.conn is not None:
                    action.conn.close()
            elif isinstance(action, Connect):
                self._spawn(self._connect(peer))
            elif isinstance(action, PeerUp):
                log.info("peer %s open (%s), applications %s", peer.name, peer.state.value,
                         sorted(action.applications))
                if self.on_peer_change:
                    self.on_peer_change(peer)
            elif isinstance(action, PeerDown):
                log.info("peer %s down: %s", peer.name, action.reason)
                if self.on_peer_change:
                    self.on_peer_change(peer)
        self._arm(peer)

    def _arm(self, peer: Peer) -> None:
        """Have the loop call back by the peer's next timer. Every message moves the watchdog time later, so
        a timer already set to fire at or before it stays: firing early is harmless (``handle_timer`` acts
        only on what is due, and ``_on_timer`` arms again). Replacing it per message cost a cancelled
        TimerHandle and a heap push for every request."""
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
        peer.handle_timer(self._now())
        self._run(peer)

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
            peer.conn_nack(self._now(), str(err))
            self._run(peer)
            return
        conn = next((c for c in self.connections if c.peer is peer and c.initiated and c is not peer.conn
                     and c is not peer.i_conn), None)
        if conn is not None:
            peer.conn_ack(conn, self._now())
            self._run(peer)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _start_handler(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a request's coroutine handler at once, up to its first await, and resume it from the done
        callback of the future it waits on: no Task per request. A Task would cost each request an extra
        loop iteration before the handler starts, one after it ends (its done callbacks), and the WeakSet
        bookkeeping of ``asyncio.all_tasks``; requests that arrive in one read then also reach the
        database batch together. Python 3.12's ``eager_start`` Task does the first half of this.

        What a handler may await: futures and anything built on them (the batch worker, ``node.request``
        with its ``wait_for``, locks, queues, sleeps). What it may not use: APIs that need a current Task
        (``asyncio.timeout``). Node.stop closes the ones still waiting."""
        self._handlers_running.add(coro)
        self._step(coro)

    def _step(self, coro: Coroutine[Any, Any, None], _done: Any = None) -> None:
        try:
            waiting = coro.send(None)
        except (KeyboardInterrupt, SystemExit):
            self._handlers_running.discard(coro)
            raise
        except BaseException as err:  # StopIteration: answered; anything else: _run_async let it through
            self._handlers_running.discard(coro)
            if not isinstance(err, StopIteration | asyncio.CancelledError):
                log.error("request handler failed outside its error handling", exc_info=err)
            return
        if waiting is None:  # a bare yield (asyncio.sleep(0)): go again on the next iteration
            asyncio.get_running_loop().call_soon(self._step, coro)
            return
        waiting._asyncio_future_blocking = False  # what Task does: the await is being honoured
        waiting.add_done_callback(partial(self._step, coro))

    # --- inbound -------------------------------------------------------------------------------
    def on_framing_error(self, conn: Connection, err: FramingError) -> None:
        """The length field cannot be trusted: answer 5015 if the header allows, then close."""
        header = peek_header(err.header)
        if header.is_request and header.version == 1:
            derr = DiameterError(ResultCode.INVALID_MESSAGE_LENGTH, str(err))
            self._send(conn, error_answer(header, self.identity, derr))
        conn.close()

    def on_frame(self, conn: Connection, frame: bytes) -> None:
        if self.taps:
            self._tap("in", conn, frame)
        try:
            msg = self.dictionary.decode_checked(frame)
        except DecodeError as err:
            if err.header is not None and err.header.is_request:
                self._send(conn, error_answer(err.header, self.identity, err))
            if err.fatal or conn.peer is None:
                conn.close()
            return
        peer = conn.peer
        if peer is None:
            self._first_message(conn, msg)
            return
        peer.receive(conn, msg, self._now())
        self._run(peer)

    def _first_message(self, conn: Connection, msg: Message) -> None:
        """The first message on an accepted connection must be a CER (RFC 6733 §5.3)."""
        if msg.code != Cmd.CAPABILITIES_EXCHANGE or not msg.is_request:
            log.info("%s: first message is command %d, not CER: closing", conn.remote, msg.code)
            conn.close()
            return
        assert self.capabilities is not None
        try:
            if msg.flags & FLAG_ERROR:
                raise DiameterError(ResultCode.INVALID_HDR_BITS, "E-bit set in a request")
            self.dictionary.validate(msg)
            origin = str(msg["Origin-Host"])
        except DiameterError as err:
            self._send(conn, error_answer(msg, self.identity, err))
            conn.close()
            return
        if not self._authorised(conn, origin):
            log.warning("refusing unknown peer %s from %s", origin, conn.remote[0])
            cea = make_cea(msg, self.capabilities, ResultCode.UNKNOWN_PEER, "unknown peer")
            cea.flags |= FLAG_ERROR
            self._send(conn, cea)
            conn.close()
            return
        ps = self.peer_settings.get(origin.lower())
        peer = self._peer(origin, initiate=ps is not None and ps.mode == "connect")
        conn.peer = peer
        peer.r_conn_cer(conn, msg, self._now())
        self._run(peer)

    def on_connection_lost(self, conn: Connection) -> None:
        for key in [k for k in self._pending if k[0] == id(conn)]:
            fut = self._pending.pop(key)
            if not fut.done():
                fut.set_exception(ConnectionError("connection lost before the answer"))
        peer = conn.peer
        if peer is not None:
            peer.disconnected(conn, self._now())
            self._run(peer)

    def _deliver(self, peer: Peer, conn: Connection, msg: Message) -> None:
        if not msg.is_request:
            fut = self._pending.pop((id(conn), msg.hop_by_hop), None)
            if fut is not None and not fut.done():
                fut.set_result(msg)
            else:
                log.debug("discarding unmatched answer hbh=0x%08x from %s", msg.hop_by_hop, peer.name)
            return
        dup_key = None
        if msg.flags & FLAG_RETRANSMIT:
            origin = msg.find(*_ORIGIN_HOST)
            dup_key = (bytes(origin.data) if origin else b"", msg.end_to_end)
            cached = self._answered.get(dup_key)
            if cached is not None:
                conn.send_bytes(cached[:12] + msg.hop_by_hop.to_bytes(4, "big") + cached[16:])
                return
        try:
            handler = check_local_delivery(msg, self.identity.origin_host, self.identity.origin_realm,
                                           self.app_vendors, self.handlers)
            self.dictionary.validate(msg)
        except DiameterError as err:
            self._answer(conn, msg, self._error_answer(msg, err))
            return
        ctx = RequestContext(self, peer, conn)
        if (msg.app_id, msg.code) in self._async_handlers:
            self._start_handler(self._run_async(handler, msg, ctx))
            return
        try:
            ans = handler(msg, ctx)
        except DiameterError as err:
            ans = self._error_answer(msg, err)
        except Exception:
            log.exception("handler for command %d failed", msg.code)
            ans = self._error_answer(msg, DiameterError(ResultCode.UNABLE_TO_COMPLY, "internal error"))
        self._answer(conn, msg, ans)  # type: ignore[arg-type]

    async def _run_async(self, handler: Handler, msg: Message, ctx: RequestContext) -> None:
        try:
            ans = await handler(msg, ctx)  # type: ignore[misc]
        except DiameterError as err:
            ans = self._error_answer(msg, err)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("handler for command %d failed", msg.code)
            ans = self._error_answer(msg, DiameterError(ResultCode.UNABLE_TO_COMPLY, "internal error"))
        self._answer(ctx.conn, msg, ans)

    def _error_answer(self, req: Message, err: DiameterError) -> Message:
        return error_answer(req, self.identity, err, self.error_avps.get(req.app_id, ()))

    def _answer(self, conn: Connection, req: Message, ans: Message) -> None:
        ans.hop_by_hop = req.hop_by_hop
        ans.end_to_end = req.end_to_end
        data = ans.encode()
        if self.taps:
            self._tap("out", conn, data)
        conn.send_bytes(data)
        # Remember the answer so a retransmission (T-bit) of the same request gets it again (RFC 6733 §5.5.4)
        origin = req.find(*_ORIGIN_HOST)
        self._answered[(bytes(origin.data) if origin else b"", req.end_to_end)] = data
        if len(self._answered) > _DUP_CACHE_SIZE:
            self._answered.popitem(last=False)
        if self.on_answer_sent is not None:
            self.on_answer_sent(req, ans)

    def _send(self, conn: Connection, msg: Message) -> None:
        if msg.is_request and msg.hop_by_hop == 0:
            msg.hop_by_hop = next_hop_by_hop()
            msg.end_to_end = msg.end_to_end or new_end_to_end()
        data = msg.encode()
        if self.taps:
            self._tap("out", conn, data)
        conn.send_bytes(data)

    def _tap(self, direction: str, conn: Connection, data: bytes) -> None:
        for tap in self.taps:
            try:
                tap(direction, conn, data)
            except Exception:  # a mirror must never break signalling
                log.debug("tap failed", exc_info=True)

    # --- outbound requests ---------------------------------------------------------------------
    def open_peers(self, app_id: int | None = None) -> list[Peer]:
        return [p for p in self.peers.values() if p.is_open and not p.suspect
                and (app_id is None or app_id in p.applications or AppId.RELAY in p.applications)]

    def select_peer(self, msg: Message, peer_name: str | None = None) -> Peer:
        if peer_name is not None:
            peer = self.peers.get(peer_name.lower())
            if peer is None or not peer.is_open:
                raise DiameterError(ResultCode.UNABLE_TO_DELIVER, f"peer {peer_name} is not open")
            return peer
        dest = msg.get("Destination-Host")
        if dest is not None:
            peer = self.peers.get(str(dest).lower())
            if peer is not None and peer.is_open:
                return peer
        realm = msg.get("Destination-Realm")
        for peer in self.open_peers(msg.app_id):
            if realm is None or str(peer.remote.get("origin_realm", "")).lower() == str(realm).lower():
                return peer
        candidates = self.open_peers(msg.app_id)
        if candidates:
            return candidates[0]
        raise DiameterError(ResultCode.UNABLE_TO_DELIVER, "no open peer for this request")

    async def request(self, msg: Message, peer: str | None = None, timeout: float | None = None) -> Message:
        """Send a request and wait for its answer (matched by hop-by-hop id on the same connection)."""
        target = self.select_peer(msg, peer)
        msg.hop_by_hop = next_hop_by_hop()
        msg.end_to_end = msg.end_to_end or new_end_to_end()
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Message] = loop.create_future()
        conn = target.conn
        key = (id(conn), msg.hop_by_hop)
        self._pending[key] = fut
        try:
            target.send(msg)
            self._run(target)
            return await asyncio.wait_for(fut, timeout or self.settings.request_timeout)
        finally:
            self._pending.pop(key, None)
