"""The Diameter node's decisions, sans-IO: which connections become peers, what a received message is for,
which handler serves a request, where a request goes when it is not for us, and what every request is
answered with.

Events come in as method calls with ``now`` passed in (a frame arrived, a connection was lost, a timer is
due, a handler answered); actions go out through an `Output` (write these bytes to that connection, run
this handler, dial this peer...). Nothing here touches a socket, a clock or an event loop, so every
decision is testable with a fake clock (tests/diameter/test_core.py). ``sigcore.diameter.aio.Node`` is the
asyncio adapter around it.

What it decides (RFC 6733): the CER-first rule and peer authorisation (§5.3), the peer state machine per
peer (`Peer`, §5.6), duplicate detection (§5.5.4), matching answers to the requests they answer, local
delivery (§6.1.4), and the relay (§6.1.6-§6.1.9, §6.2): Route-Record, hop-by-hop rewrite and restore,
loop detection (3005), 3002/3003, failover to the next candidate with the T-flag. The relay path works on
the received bytes: no decode, no dictionary, unknown AVPs and applications forwarded byte-exact.
"""

from __future__ import annotations

import ipaddress
import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence
from struct import Struct
from typing import Any, Final, Protocol

from sigcore.diameter.admission import Admission, AdmissionLimits
from sigcore.diameter.answers import Identity, error_answer
from sigcore.diameter.application import resolve_command
from sigcore.diameter.capabilities import LocalCapabilities, make_cea
from sigcore.diameter.constants import (
    FLAG_ERROR,
    FLAG_REQUEST,
    FLAG_RETRANSMIT,
    AppId,
    Cmd,
    DisconnectCause,
    ResultCode,
)
from sigcore.diameter.dictionary import DICTIONARY, Dictionary
from sigcore.diameter.errors import DecodeError, DiameterError
from sigcore.diameter.events import Connect, Deliver, Disconnect, PeerDown, PeerUp, Send
from sigcore.diameter.message import Message, new_end_to_end, next_hop_by_hop, peek_header
from sigcore.diameter.peer import Peer, PeerPolicy, State
from sigcore.diameter.relay import (
    ROUTE_RECORD,
    Routing,
    forwarded,
    identity_avp,
    mark_retransmit,
    result_code,
    set_hop_by_hop,
)
from sigcore.diameter.routing import SCORE_NAMED, SCORE_REALM, InTransit, RoutingHooks, check_local_delivery
from sigcore.failure_log import FailureLog

log = logging.getLogger("sigcore.diameter.node")
#: a hook's bug, or the node's own, repeats per message: one traceback per kind, then counted lines
_FAILURES: Final = FailureLog(log)
_ORIGIN_HOST: Final = DICTIONARY.avp("Origin-Host").key
_DUP_CACHE_SIZE: Final = 8192
_U32: Final = Struct(">I")
_BASE_COMMANDS: Final = frozenset({int(Cmd.CAPABILITIES_EXCHANGE), int(Cmd.DEVICE_WATCHDOG),
                                   int(Cmd.DISCONNECT_PEER)})
_RELAY: Final = int(AppId.RELAY)
_FAILOVER_RESULTS: Final = frozenset({int(ResultCode.UNABLE_TO_DELIVER), int(ResultCode.TOO_BUSY)})
_REFUSALS: Final = {int(ResultCode.REALM_NOT_SERVED): "realm_not_served",
                    int(ResultCode.UNABLE_TO_DELIVER): "unable_to_deliver"}

Handler = Callable[[Message, Any], "Message | Awaitable[Message]"]


class Output(Protocol):
    """What the core asks its adapter to do. ``conn`` is the adapter's connection handle: the core reads
    and sets its ``peer`` attribute and reads ``remote`` ((address, port, ...)), nothing else."""

    def write(self, conn: Any, data: bytes | bytearray) -> None:
        """Queue ``data`` on ``conn`` (writes made while one event is handled may leave together)."""

    def disconnect(self, conn: Any) -> None:
        """Close ``conn`` after what is queued on it."""

    def dial(self, peer: Peer) -> None:
        """Open a connection to ``peer``, then call `NodeCore.connected` or `NodeCore.connect_failed`."""

    def handle(self, handler: Handler, request: Message, peer: Peer, conn: Any) -> None:
        """Run ``handler`` for ``request``; its answer goes to `NodeCore.answer` (its DiameterError or failure
        to `NodeCore.handler_failed`)."""

    def peer_changed(self, peer: Peer, up: bool, reason: str) -> None:
        """``peer`` opened (``up``) or closed."""

    def answer_received(self, hop_by_hop: int, answer: Message) -> None:
        """The answer to our request sent with `NodeCore.request`."""

    def request_failed(self, hop_by_hop: int, reason: str) -> None:
        """Our request will get no answer (its connection was lost)."""

    def relay_deadline(self, when: float) -> None:
        """Call `NodeCore.relay_timer` at ``when`` (or earlier); one such timer at a time is enough."""

    def handling(self, conn: Any) -> bool:
        """Whether a handler started by `handle` for a request from ``conn`` has yet to answer."""


class _Relay:
    """One forwarded request until it is answered: where it came from, the bytes sent, the peers to try."""

    __slots__ = ("candidates", "deadline", "from_peer", "hop_by_hop", "index", "origin_conn", "origin_hbh", "out",
                 "started", "target_conn", "transit")

    def __init__(self, origin_conn: Any, origin_hbh: int, from_peer: Peer, out: bytearray,
                 candidates: list[Peer], transit: InTransit | None, started: float) -> None:
        self.transit = transit  # the request as the hooks saw it (None when no hook looked at it)
        self.started = started
        self.origin_conn = origin_conn
        self.origin_hbh = origin_hbh
        self.from_peer = from_peer
        self.out = out
        self.candidates = candidates
        self.index = 0
        self.hop_by_hop = 0
        self.deadline = 0.0
        self.target_conn: Any = None  # None once settled


class _Stopping:
    """A graceful stop in progress: its deadline and cause, the relays in flight when it began, and the open
    peers whose DPR waits (`NodeCore.drain`)."""

    __slots__ = ("cause", "held", "taken", "until")

    def __init__(self, until: float, cause: DisconnectCause, taken: list[_Relay]) -> None:
        self.until = until
        self.cause = cause
        self.taken: list[_Relay] | None = taken  # None once the DPRs to the clients went
        self.held: list[Peer] = []


class NodeCore:
    """The sans-IO node. ``configured`` maps each configured peer's name (lower-case) to whether we connect
    to it; ``allow`` are the networks unconfigured peers may connect from (else 3010)."""

    def __init__(self, identity: Identity, output: Output, *, dictionary: Dictionary | None = None,
                 policy: PeerPolicy | None = None, configured: dict[str, bool] | None = None,
                 allow: list[str] | None = None, request_timeout: float = 10.0, relay: bool = False,
                 limits: AdmissionLimits | None = None) -> None:
        self.identity = identity
        self.out = output
        self.dictionary = dictionary or DICTIONARY
        self.policy = policy or PeerPolicy()
        self.configured = {k.lower(): v for k, v in (configured or {}).items()}
        nets = ["127.0.0.0/8", "::1/128"] if allow is None else allow
        self.allow = [ipaddress.ip_network(n, strict=False) for n in nets]
        self.request_timeout = request_timeout
        self.relay = relay  # a routing agent: advertises the Relay application and forwards
        self.peers: dict[str, Peer] = {}
        #: accepted connections without a CER yet, bounded (`sigcore.diameter.admission`)
        self.admission = Admission(limits)
        self.handlers: dict[tuple[int, int], Handler] = {}
        self.app_vendors: dict[int, int] = {}
        #: Application-Id -> AVPs every error answer of that application carries (`Application.answer_avps`)
        self.error_avps: dict[int, tuple[Any, ...]] = {}
        self.hooks = RoutingHooks()
        self.capabilities: LocalCapabilities | None = None
        #: Called with (request, answer) for every answer this node sends for its own handlers
        self.on_answer_sent: Callable[[Message, Message], None] | None = None
        self._forwarding = False
        self._own = identity.origin_host.lower().encode()
        self._answered: OrderedDict[tuple[bytes, int], bytes] = OrderedDict()
        self._pending: dict[int, Any] = {}  # our requests: hop-by-hop -> connection sent on
        self._relays: dict[int, _Relay] = {}  # forwarded requests: our hop-by-hop -> state
        self._relay_queue: deque[tuple[float, _Relay]] = deque()
        self._route_records: dict[str, bytes] = {}
        self._stopping: _Stopping | None = None

    # --- configuration -------------------------------------------------------------------------
    def register(self, app_id: int, command: int | str, handler: Handler, vendor: int = 0) -> tuple[int, int]:
        """Serve (application, command); returns that key, the command resolved by name if need be."""
        key = (app_id, resolve_command(self.dictionary, app_id, command))
        self.handlers[key] = handler
        self.app_vendors.setdefault(app_id, vendor)
        return key

    def advertise(self, app_id: int, vendor: int = 0) -> None:
        self.app_vendors.setdefault(app_id, vendor)

    def local_capabilities(self) -> LocalCapabilities:
        apps = {_RELAY: 0} if self.relay else dict(self.app_vendors)
        caps = LocalCapabilities(self.identity, auth_apps=apps)
        caps.supported_vendors = {v for v in self.app_vendors.values() if v}
        return caps

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self, now: float) -> None:
        """Fix the capabilities and start the peers we connect to."""
        self.capabilities = self.local_capabilities()
        self._forwarding = self.relay or self.hooks.forwarding
        for name, initiate in self.configured.items():
            if initiate:
                peer = self.peer(name, initiate=True)
                peer.start(now)
                self._run(peer)

    def stop(self, now: float, cause: DisconnectCause = DisconnectCause.REBOOTING, grace: float = 0.0) -> None:
        """Stop gracefully (RFC 6733 §5.4), so that nothing in flight is lost, within ``grace`` seconds:
        first what was taken is finished (the relays in flight now, and the handlers running now: the
        adapter says when, see `drain`), everything still served meanwhile, so that no peer holds on to a
        slow answer past its own grace (freeDiameter keeps a connection 1 s after DPR/DPA); then DPR to every
        open peer we never sent a request to (the clients), so that they send no more; a peer we relayed or
        sent requests to (`Peer.upstream`) gets its DPR once those clients are gone (what they send until
        their DPA still needs it) and the answers we await from it are in. After the DPA a connection stays
        until the answers in flight on it are exchanged (`Peer.in_flight`). The adapter calls `drain` until
        it says done."""
        self._stopping = _Stopping(now + grace, cause, [r for r in self._relays.values() if r.target_conn is not None])

    def drain(self, now: float, taken_handled: bool = True) -> bool:
        """One step of a graceful `stop`: the DPRs that may go now (all of them once the grace is over).
        ``taken_handled``: the handlers that were running when the stop began have answered. True when
        every peer is closed."""
        stopping = self._stopping
        if stopping is None:
            return True
        late = now >= stopping.until
        if stopping.taken is not None:
            if not late and not (taken_handled and all(r.target_conn is None for r in stopping.taken)):
                return False
            stopping.taken = None
            for peer in self.peers.values():
                if peer.is_open and peer.upstream:
                    stopping.held.append(peer)
                    continue
                peer.stop(now, stopping.cause)
                self._run(peer)
        if stopping.held:
            clients_gone = all(p.upstream or p.state is State.CLOSED for p in self.peers.values())
            awaited = self._awaited() if clients_gone else set()
            for peer in list(stopping.held):
                if late or not peer.is_open or (clients_gone and peer.conn not in awaited):
                    stopping.held.remove(peer)
                    peer.stop(now, stopping.cause)
                    self._run(peer)
        return not stopping.held and not any(p.state is State.CLOSING for p in self.peers.values())

    def _awaited(self) -> set[Any]:
        """The connections we await answers on."""
        return {r.target_conn for r in self._relays.values()} | set(self._pending.values())

    def _in_flight(self, conn: Any) -> bool:
        """Whether an answer is still to come or to go on ``conn``: asked after DPR/DPA (`Peer.in_flight`)."""
        if conn in self._pending.values() or self.out.handling(conn):
            return True
        return any(r.target_conn is conn or r.origin_conn is conn for r in self._relays.values())

    def peer(self, name: str, initiate: bool) -> Peer:
        key = name.lower()
        peer = self.peers.get(key)
        if peer is None:
            s = self.policy
            policy = PeerPolicy(s.tw, s.tc, s.cer_timeout, s.dpa_timeout, s.jitter, initiate, s.busy_backoff,
                                grace=self.request_timeout)
            assert self.capabilities is not None
            peer = Peer(name, self.capabilities, policy)
            peer.in_flight = self._in_flight
            self.peers[key] = peer
        return peer

    # --- peer events ---------------------------------------------------------------------------
    def peer_timer(self, peer: Peer, now: float) -> None:
        peer.handle_timer(now)
        self._run(peer)

    def connected(self, peer: Peer, conn: Any, now: float) -> None:
        conn.peer = peer
        peer.conn_ack(conn, now)
        self._run(peer)

    def connect_failed(self, peer: Peer, now: float, reason: str) -> None:
        peer.conn_nack(now, reason)
        self._run(peer)

    def accepted(self, conn: Any, now: float) -> bool:
        """A connection was accepted: False to refuse it at once (too many without a CER: `Admission`).
        The adapter then calls `cer_deadline` ``policy.cer_timeout`` after ``now``."""
        return self.admission.admit(conn)

    def cer_deadline(self, conn: Any, now: float) -> None:
        """``cer_timeout`` after the accept: close the connection if its CER has not come (RFC 6733 §5.3)."""
        if self.admission.expired(conn):
            self.out.disconnect(conn)

    def connection_lost(self, conn: Any, now: float) -> None:
        self.admission.settled(conn)
        for hbh in [h for h, c in self._pending.items() if c is conn]:
            del self._pending[hbh]
            self.out.request_failed(hbh, "connection lost before the answer")
        if self._relays:
            for relay in [r for r in self._relays.values() if r.target_conn is conn]:
                self._next_candidate(relay, now, "connection lost")
        peer = conn.peer
        if peer is not None:
            peer.disconnected(conn, now)
            self._run(peer)

    def _run(self, peer: Peer) -> None:
        """Execute the peer's actions."""
        out = self.out
        for action in peer.drain():
            if isinstance(action, Send):
                self._send(action.conn, action.message)
            elif isinstance(action, Deliver):
                self._deliver(peer, action.conn, action.message)
            elif isinstance(action, Disconnect):
                if action.conn is not None:
                    out.disconnect(action.conn)
            elif isinstance(action, Connect):
                out.dial(peer)
            elif isinstance(action, PeerUp):
                out.peer_changed(peer, True, "open")
            elif isinstance(action, PeerDown):
                out.peer_changed(peer, False, action.reason)

    def _send(self, conn: Any, msg: Message) -> None:
        if msg.is_request and msg.hop_by_hop == 0:
            msg.hop_by_hop = next_hop_by_hop()
            msg.end_to_end = msg.end_to_end or new_end_to_end()
        self.out.write(conn, msg.encode())

    # --- inbound -------------------------------------------------------------------------------
    def framing_error(self, conn: Any, header: bytes, why: str) -> None:
        """The length field cannot be trusted: answer 5015 if the header allows, then close."""
        head = peek_header(header)
        if head.is_request and head.version == 1:
            self.out.write(conn, error_answer(head, self.identity,
                                              DiameterError(ResultCode.INVALID_MESSAGE_LENGTH, why)).encode())
        self.out.disconnect(conn)

    def frame(self, conn: Any, frame: bytes, now: float) -> None:
        """One whole message received on ``conn``."""
        try:
            peer: Peer | None = conn.peer
            if peer is not None and self._forwarding:
                flags_code = _U32.unpack_from(frame, 4)[0]
                # base commands, a version other than 1 and E-bit requests (3008) take the decoding path
                if flags_code & 0xFFFFFF not in _BASE_COMMANDS and frame[0] == 1 and flags_code >> 24 & 0xA0 != 0xA0:
                    if flags_code >> 24 & FLAG_REQUEST:
                        if peer.app_traffic(conn, now):
                            self._route(peer, conn, frame, now)
                        return
                    relay = self._relays.pop(_U32.unpack_from(frame, 12)[0], None)
                    if relay is not None:
                        if conn is relay.target_conn and peer.app_traffic(conn, now):
                            self._relay_answer(relay, frame, now)
                        else:
                            self._relays[relay.hop_by_hop] = relay
                        return
            try:
                msg = self.dictionary.decode_checked(frame)
            except DecodeError as err:
                if err.header is not None and err.header.is_request:
                    self.out.write(conn, error_answer(err.header, self.identity, err).encode())
                if err.fatal or peer is None:
                    self.out.disconnect(conn)
                return
            if peer is None:
                self._first_message(conn, msg, now)
                return
            peer.receive(conn, msg, now)
            self._run(peer)
        except Exception as err:  # a bug of ours or of an outside handler: never the connection's end
            self._frame_failed(conn, frame, err)

    def _frame_failed(self, conn: Any, frame: bytes, err: Exception) -> None:
        """Processing a frame raised (a bug): a request is answered 5012 UNABLE_TO_COMPLY, the failure
        logged (its traceback once), and the connection and its other messages carry on. Left to the event
        loop, the exception would close the connection with every request on it unanswered."""
        _FAILURES.failed(f"frame {type(err).__name__}", err, "processing a message from %s failed",
                         getattr(conn.peer, "name", None) or conn.remote[0])
        head = peek_header(frame)
        if head.is_request and head.version == 1:
            self.out.write(conn, error_answer(head, self.identity,
                                              DiameterError(ResultCode.UNABLE_TO_COMPLY, "internal error")).encode())

    def _first_message(self, conn: Any, msg: Message, now: float) -> None:
        """The first message on an accepted connection must be a CER (RFC 6733 §5.3)."""
        if msg.code != Cmd.CAPABILITIES_EXCHANGE or not msg.is_request:
            log.info("%s: first message is command %d, not CER: closing", conn.remote, msg.code)
            self.out.disconnect(conn)
            return
        assert self.capabilities is not None
        try:
            if msg.flags & FLAG_ERROR:
                raise DiameterError(ResultCode.INVALID_HDR_BITS, "E-bit set in a request")
            self.dictionary.validate(msg)
            origin = str(msg["Origin-Host"])
        except DiameterError as err:
            self.out.write(conn, error_answer(msg, self.identity, err).encode())
            self.out.disconnect(conn)
            return
        if not self.authorised(conn, origin):
            log.warning("refusing unknown peer %s from %s", origin, conn.remote[0])
            cea = make_cea(msg, self.capabilities, ResultCode.UNKNOWN_PEER, "unknown peer")
            cea.flags |= FLAG_ERROR
            self.out.write(conn, cea.encode())
            self.out.disconnect(conn)
            return
        if origin.lower().encode() == self._own:
            # No two nodes share a DiameterIdentity: this is our own CER come back (a peer entry or a route
            # pointing at our own listener) or an impostor. Either way not a peer we can accept (§5.3: 3010);
            # 3005 LOOP_DETECTED belongs to relayed requests (Route-Record), and a peer under our name would
            # break the election (§5.6.4) and routing to Destination-Host.
            log.warning("refusing a CER from %s carrying our own Origin-Host %s", conn.remote[0], origin)
            cea = make_cea(msg, self.capabilities, ResultCode.UNKNOWN_PEER, "Origin-Host is this node's own")
            cea.flags |= FLAG_ERROR
            self.out.write(conn, cea.encode())
            self.out.disconnect(conn)
            return
        peer = self.peer(origin, initiate=self.configured.get(origin.lower(), False))
        self.admission.settled(conn)
        conn.peer = peer
        peer.r_conn_cer(conn, msg, now)
        self._run(peer)

    def authorised(self, conn: Any, origin_host: str) -> bool:
        """A configured peer by name, or an unconfigured one from an allowed network (else 3010)."""
        if origin_host.lower() in self.configured:
            return True
        try:
            ip = ipaddress.ip_address(str(conn.remote[0]).split("%")[0])
        except ValueError:
            return False
        return any(ip in net for net in self.allow)

    def _deliver(self, peer: Peer, conn: Any, msg: Message) -> None:
        if not msg.is_request:
            sent_on = self._pending.pop(msg.hop_by_hop, None)
            if sent_on is conn:
                self.out.answer_received(msg.hop_by_hop, msg)
            else:
                if sent_on is not None:
                    self._pending[msg.hop_by_hop] = sent_on
                log.debug("discarding unmatched answer hbh=0x%08x from %s", msg.hop_by_hop, peer.name)
            return
        self._deliver_request(peer, conn, msg)

    def _deliver_request(self, peer: Peer, conn: Any, msg: Message) -> None:
        if msg.flags & FLAG_RETRANSMIT:
            origin = msg.find(*_ORIGIN_HOST)
            cached = self._answered.get((bytes(origin.data) if origin else b"", msg.end_to_end))
            if cached is not None:  # RFC 6733 §5.5.4: the same answer again
                self.out.write(conn, cached[:12] + msg.hop_by_hop.to_bytes(4, "big") + cached[16:])
                return
        try:
            handler = check_local_delivery(msg, self.identity.origin_host, self.identity.origin_realm,
                                           self.app_vendors, self.handlers)
            self.dictionary.validate(msg)
        except DiameterError as err:
            self.answer(conn, msg, self.error_answer(msg, err))
            return
        self.out.handle(handler, msg, peer, conn)

    # --- answers from our handlers -------------------------------------------------------------
    def error_answer(self, req: Message, err: DiameterError) -> Message:
        return error_answer(req, self.identity, err, self.error_avps.get(req.app_id, ()))

    def handler_failed(self, conn: Any, req: Message, err: BaseException) -> None:
        """The handler raised: a DiameterError is its answer, anything else 5012."""
        if not isinstance(err, DiameterError):
            err = DiameterError(ResultCode.UNABLE_TO_COMPLY, "internal error")
        self.answer(conn, req, self.error_answer(req, err))

    def answer(self, conn: Any, req: Message, ans: Message) -> None:
        """Send the answer to ``req`` and remember it for a retransmission of ``req`` (RFC 6733 §5.5.4)."""
        ans.hop_by_hop = req.hop_by_hop
        ans.end_to_end = req.end_to_end
        data = ans.encode()
        self.out.write(conn, data)
        origin = req.find(*_ORIGIN_HOST)
        self._answered[(bytes(origin.data) if origin else b"", req.end_to_end)] = data
        if len(self._answered) > _DUP_CACHE_SIZE:
            self._answered.popitem(last=False)
        if self.on_answer_sent is not None:
            self.on_answer_sent(req, ans)

    # --- our requests --------------------------------------------------------------------------
    def open_peers(self, app_id: int | None = None) -> list[Peer]:
        return [p for p in self.peers.values() if p.is_open and not p.suspect
                and (app_id is None or app_id in p.applications or _RELAY in p.applications)]

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
        candidates = self.open_peers(msg.app_id)
        for peer in candidates:
            if realm is None or peer.realm == str(realm).lower():
                return peer
        if candidates:
            return candidates[0]
        raise DiameterError(ResultCode.UNABLE_TO_DELIVER, "no open peer for this request")

    def request(self, msg: Message, peer_name: str | None = None) -> Peer:
        """Send our request ``msg``; its answer comes back as `Output.answer_received` with its hop-by-hop
        id (set here). Raises DiameterError 3002 when no peer can take it."""
        target = self.select_peer(msg, peer_name)
        msg.hop_by_hop = next_hop_by_hop()
        msg.end_to_end = msg.end_to_end or new_end_to_end()
        self._pending[msg.hop_by_hop] = target.conn
        target.upstream = True
        target.send(msg)
        self._run(target)
        return target

    def forget(self, hop_by_hop: int) -> None:
        """We stopped waiting for the answer (a timeout)."""
        self._pending.pop(hop_by_hop, None)

    # --- relay (RFC 6733 §6) -------------------------------------------------------------------
    def _route(self, peer: Peer, conn: Any, frame: bytes, now: float) -> None:
        """A request from an open peer on a forwarding node: deliver locally or forward."""
        try:
            routing = Routing(frame, self._own)
        except ValueError:  # AVP headers that do not fit: the decoder names the fault (5014)
            self._decode_and_deliver(peer, conn, frame)
            return
        transit: InTransit | None = None
        local: bool | None = None
        if self.hooks.local_delivery:
            transit = InTransit(bytearray(frame), peer, routing)
            hook = None
            try:
                for hook in self.hooks.local_delivery:
                    local = hook(transit)
                    if local is not None:
                        break
            except DiameterError as err:
                self._answer_in_transit(conn, transit.buf, err)
                return
            except Exception as err:  # a bug in the hook: decided as if it had no opinion
                _hook_failed(hook, err)
                local = None
            frame = bytes(transit.buf)
        if local is None:
            local = self._is_local(routing, frame)
        if local:
            self._decode_and_deliver(peer, conn, frame)
            return
        if routing.looped:
            self._answer_in_transit(conn, frame, DiameterError(
                ResultCode.LOOP_DETECTED, f"{self.identity.origin_host} is already in the Route-Record"))
            if self.hooks.observers:
                self._observe("looped", transit or InTransit(bytearray(frame), peer, routing), None,
                              int(ResultCode.LOOP_DETECTED), None)
            return
        self._forward(peer, conn, frame, routing, transit, now)

    def _is_local(self, routing: Routing, frame: bytes) -> bool:
        """RFC 6733 §6.1.4: for us by Destination-Host; else by realm when we serve the application."""
        host = routing.destination_host
        if host is not None:
            return host.encode() == self._own
        realm = routing.destination_realm
        if realm is None or realm != self.identity.origin_realm.lower():
            return realm is None
        return _U32.unpack_from(frame, 8)[0] in self.app_vendors

    def _decode_and_deliver(self, peer: Peer, conn: Any, frame: bytes) -> None:
        try:
            msg = self.dictionary.decode_checked(frame)
        except DecodeError as err:
            if err.header is not None:
                self.out.write(conn, error_answer(err.header, self.identity, err).encode())
            if err.fatal:
                self.out.disconnect(conn)
            return
        self._deliver_request(peer, conn, msg)

    def _answer_in_transit(self, conn: Any, buf: bytes | bytearray, err: DiameterError) -> None:
        """Answer a request we were routing with ``err`` (its Session-Id and Proxy-Info echoed)."""
        try:
            req: Any = Message.decode(bytes(buf))
        except DecodeError:
            req = peek_header(buf)
        self.out.write(conn, error_answer(req, self.identity, err).encode())

    def _forward(self, peer: Peer, conn: Any, frame: bytes, routing: Routing, transit: InTransit | None,
                 now: float) -> None:
        hooks = self.hooks
        buf: bytes | bytearray = frame
        try:
            if hooks.forward_request:
                transit = transit or InTransit(bytearray(frame), peer, routing)
                for hook in hooks.forward_request:
                    _call_hook(hook, transit)
                buf = transit.buf
                if transit.routing is not routing:  # a hook that changed it gave its facts
                    routing = transit.routing
                elif buf != frame:  # changed: its routing facts may have changed too
                    routing = transit.routing = Routing(buf, self._own)
            if (hooks.out_routing or hooks.next_hops) and transit is None:
                transit = InTransit(bytearray(frame), peer, routing)
            candidates = self._candidates(peer, buf, routing, transit)
        except DiameterError as err:
            self._answer_in_transit(conn, buf, err)
            if hooks.observers:
                event = _REFUSALS.get(err.result_code, "rejected")
                self._observe(event, transit or InTransit(bytearray(buf), peer, routing), None, err.result_code, None)
            return
        if transit is not None:
            buf = transit.buf  # as the out-routing hooks left it
        elif hooks.observers:
            transit = InTransit(bytearray(buf), peer, routing)
        origin_hbh = _U32.unpack_from(buf, 12)[0]
        relay = _Relay(conn, origin_hbh, peer, forwarded(buf, 0, self._route_record(peer)), candidates, transit, now)
        self._send_relay(relay, now)

    def _observe(self, event: str, transit: InTransit, peer: Peer | None, rc: int | None,
                 seconds: float | None) -> None:
        for observer in self.hooks.observers:
            try:
                observer(event, transit, peer, rc, seconds)
            except Exception:  # counting must never break signalling
                log.exception("relay observer %r failed", observer)

    def _route_record(self, peer: Peer) -> bytes:
        rr = self._route_records.get(peer.name)
        if rr is None:
            rr = self._route_records[peer.name] = identity_avp(ROUTE_RECORD, peer.name)
        return rr

    def _candidates(self, from_peer: Peer, buf: bytes | bytearray, routing: Routing,
                    transit: InTransit | None) -> list[Peer]:
        """The open peers to try, best first; DiameterError 3003 when nothing routes the request, 3002 when
        what routes it is down."""
        host = routing.destination_host
        if host is not None:
            direct = self.peers.get(host)
            if direct is not None and direct is not from_peer and direct.is_open:
                return [direct]
        app_id = _U32.unpack_from(buf, 8)[0]
        hooks = self.hooks
        named: Sequence[str] | None = None
        if transit is not None and hooks.next_hops:
            next_hops = None
            try:
                for next_hops in hooks.next_hops:
                    named = next_hops(transit)
                    if named is not None:
                        break
            except DiameterError:
                raise
            except Exception as err:  # a bug in the hook: left to the realm rule
                _hook_failed(next_hops, err)
                named = None
        if named is not None and not hooks.out_routing:
            peers = self.peers
            return self._usable([peers[name] for name in named if name in peers], app_id, routing.destination_realm)
        scores = self._scores(from_peer, app_id, routing.destination_realm, named)
        if transit is not None:
            for hook in hooks.out_routing:
                try:
                    hook(transit, scores)
                except DiameterError:
                    raise
                except Exception as err:  # a bug in the hook: the scores as it left them
                    _hook_failed(hook, err)
        ranked = [p for p, score in scores.items() if score > 0]
        if len(ranked) > 1:
            ranked.sort(key=scores.__getitem__, reverse=True)
        return self._usable(ranked, app_id, routing.destination_realm)

    def _scores(self, from_peer: Peer, app_id: int, realm: str | None,
                named: Sequence[str] | None) -> dict[Peer, int]:
        """Every known peer but the sender, scored for the out-routing hooks: by the realm rule, or, when a
        next-hops hook named the candidates, those in their order above everything else."""
        scores: dict[Peer, int] = {}
        for p in self.peers.values():
            if p is not from_peer:
                apps = p.applications
                scores[p] = (SCORE_REALM if named is None and p.realm == realm
                             and (app_id in apps or _RELAY in apps) else 0)
        if named:
            top = SCORE_NAMED + len(named)
            for i, name in enumerate(named):
                if (peer := self.peers.get(name)) is not None:
                    scores[peer] = top - i
        return scores

    @staticmethod
    def _usable(ranked: list[Peer], app_id: int, realm: str | None) -> list[Peer]:
        """RFC 6733 §6.1.6: only a peer that advertised the application (or Relay), open and not suspect."""
        if not ranked:
            raise DiameterError(ResultCode.REALM_NOT_SERVED, f"no route to realm {realm}")
        usable = [p for p in ranked if p.is_open and not p.suspect
                  and (app_id in p.applications or _RELAY in p.applications)]
        if not usable:
            raise DiameterError(ResultCode.UNABLE_TO_DELIVER, "no open peer of the route serves the application")
        return usable

    def _send_relay(self, relay: _Relay, now: float) -> None:
        """Send to the first candidate still open, with a new hop-by-hop id; 3002 when none is left."""
        candidates = relay.candidates
        while relay.index < len(candidates):
            target = candidates[relay.index]
            conn = target.conn
            if target.is_open and conn is not None:
                hbh = relay.hop_by_hop = next_hop_by_hop()
                set_hop_by_hop(relay.out, hbh)
                relay.target_conn = conn
                target.upstream = True
                self._relays[hbh] = relay
                deadline = relay.deadline = now + self.request_timeout
                queue = self._relay_queue
                while queue and (queue[0][1].target_conn is None or queue[0][1].deadline != queue[0][0]):
                    queue.popleft()  # settled or re-sent since: drop from the front as we go
                queue.append((deadline, relay))
                if len(queue) == 1:
                    self.out.relay_deadline(deadline)
                self.out.write(conn, relay.out)
                if relay.transit is not None and self.hooks.observers:
                    self._observe("sent", relay.transit, target, None, None)
                return
            relay.index += 1
        self._relay_failed(relay, DiameterError(ResultCode.UNABLE_TO_DELIVER, "no peer could take the request"))

    def _next_candidate(self, relay: _Relay, now: float, why: str, event: str = "failover",
                        rc: int | None = None) -> None:
        """Failover: the current candidate failed (``why``); re-send to the next with the T-flag."""
        self._relays.pop(relay.hop_by_hop, None)
        failed = relay.candidates[relay.index]
        log.info("relay: %s from %s, trying the next peer", why, failed.name)
        if relay.transit is not None and self.hooks.observers:
            self._observe(event, relay.transit, failed, rc, now - relay.started)
        relay.index += 1
        relay.out = bytearray(relay.out)  # the previous attempt's bytes may still be queued for writing
        mark_retransmit(relay.out)
        self._send_relay(relay, now)

    def _relay_failed(self, relay: _Relay, err: DiameterError) -> None:
        relay.target_conn = None
        buf = bytearray(relay.out)
        set_hop_by_hop(buf, relay.origin_hbh)
        self._answer_in_transit(relay.origin_conn, buf, err)
        if relay.transit is not None and self.hooks.observers:
            self._observe("unable_to_deliver", relay.transit, None, err.result_code, None)

    def _relay_answer(self, relay: _Relay, frame: bytes, now: float) -> None:
        """The answer to a forwarded request: fail over on 3002/3004, else back where the request came from
        with its hop-by-hop id restored."""
        if frame[4] & FLAG_ERROR and relay.index + 1 < len(relay.candidates):
            try:
                rc = result_code(frame)
            except ValueError:
                rc = None
            if rc in _FAILOVER_RESULTS:
                self._next_candidate(relay, now, f"answer {rc}", rc=rc)
                return
        relay.target_conn = None
        out = bytearray(frame)
        set_hop_by_hop(out, relay.origin_hbh)
        if relay.transit is not None and self.hooks.observers:
            try:
                answered_rc = result_code(frame)
            except ValueError:
                answered_rc = None
            self._observe("answered", relay.transit, relay.candidates[relay.index], answered_rc,
                          now - relay.started)
        if self.hooks.forward_answer:
            transit = InTransit(out, relay.candidates[relay.index], None,
                                relay.transit.tag if relay.transit is not None else None)
            for hook in self.hooks.forward_answer:
                try:
                    _call_hook(hook, transit)
                except DiameterError:  # an answer is passed back whatever a hook thinks of it
                    log.warning("a forward hook refused an answer; passed back unchanged by it")
            out = transit.buf
        self.out.write(relay.origin_conn, out)

    def relay_timer(self, now: float) -> None:
        """Requests forwarded more than ``request_timeout`` ago without an answer fail over."""
        queue = self._relay_queue
        while queue and queue[0][0] <= now:
            deadline, relay = queue.popleft()
            if relay.target_conn is None or relay.deadline != deadline:
                continue
            self._next_candidate(relay, now, "no answer in time", "timeout")
        while queue and (queue[0][1].target_conn is None or queue[0][1].deadline != queue[0][0]):
            queue.popleft()
        if queue:
            self.out.relay_deadline(queue[0][0])

    @property
    def relays_in_flight(self) -> int:
        return len(self._relays)


def _call_hook(hook: Callable[[InTransit], None], transit: InTransit) -> None:
    """A hook's DiameterError answers the request; any other failure is a bug in the hook, logged, and the
    message goes on as the hook left it: signalling does not stop for it."""
    try:
        hook(transit)
    except DiameterError:
        raise
    except Exception as err:
        _hook_failed(hook, err)


def _hook_failed(hook: object, err: Exception) -> None:
    """Every routing hook's bug is logged the same way: its traceback once, then rate-limited lines."""
    name = getattr(hook, "__qualname__", None) or type(hook).__qualname__
    _FAILURES.failed(f"hook {getattr(hook, '__module__', '?')}.{name}", err,
                     "routing hook %s failed; the message goes on without it", name)


__all__ = ["Handler", "NodeCore", "Output"]
