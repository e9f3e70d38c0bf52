"""The RFC 6733 §5.6 peer state machine, sans-IO, with RFC 3539 watchdogs.

One ``Peer`` per remote Diameter identity. It owns at most two transport connections, the one it
initiated (I) and the one the peer initiated (R), and resolves simultaneous opens by election. It never
touches a socket or a clock: the adapter feeds it events with ``now`` and executes the returned actions
(``sigcore.diameter.events``), re-arming one timer from ``next_timer()``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from sigcore.diameter.capabilities import (
    LocalCapabilities,
    common_applications,
    make_cea,
    make_cer,
    make_dpa,
    make_dpr,
    make_dwa,
    make_dwr,
    remote_applications,
    summarise,
)
from sigcore.diameter.constants import Cmd, DisconnectCause, ResultCode
from sigcore.diameter.errors import DiameterError
from sigcore.diameter.events import Action, Connect, Deliver, Disconnect, PeerDown, PeerUp, Send
from sigcore.diameter.message import Message

log = logging.getLogger("sigcore.diameter.peer")


class State(Enum):
    CLOSED = "Closed"
    WAIT_CONN_ACK = "Wait-Conn-Ack"
    WAIT_I_CEA = "Wait-I-CEA"
    WAIT_CONN_ACK_ELECT = "Wait-Conn-Ack/Elect"
    WAIT_RETURNS = "Wait-Returns"
    R_OPEN = "R-Open"
    I_OPEN = "I-Open"
    CLOSING = "Closing"


OPEN_STATES = (State.R_OPEN, State.I_OPEN)


@dataclass(slots=True)
class PeerPolicy:
    """Timers (seconds) and the reconnect policy of one peer."""

    tw: float = 30.0
    tc: float = 30.0
    cer_timeout: float = 10.0
    dpa_timeout: float = 5.0
    jitter: float = 2.0  # RFC 3539 §3.4.1: Tw is jittered by up to ±2 s
    initiate: bool = False  # we connect to this peer and reconnect after Tc
    busy_backoff: float = 10.0  # Tc multiplier after DPR with Disconnect-Cause BUSY
    #: after DPR/DPA, how long the connection may stay for the answers still in flight on it (the node's
    #: request timeout: by then every request it relays is answered or failed over)
    grace: float = 10.0


#: how often a connection kept after DPR/DPA asks whether its answers are all in (`Peer.in_flight`)
GRACE_POLL: Final = 0.05


class Peer:
    """The state machine of one peer (RFC 6733 §5.6)."""

    def __init__(self, name: str, local: LocalCapabilities, policy: PeerPolicy | None = None,
                 rng: random.Random | None = None) -> None:
        self.name = name
        self.local = local
        self.policy = policy or PeerPolicy()
        self.state = State.CLOSED
        self.i_conn: Any = None
        self.r_conn: Any = None
        self.conn: Any = None  # the open connection
        self.applications: frozenset[int] = frozenset()
        self.remote: dict[str, Any] = {}
        self.realm = ""  # the peer's Origin-Realm, lower-cased, once open (for routing)
        self.suspect = False
        self.transitions = 0
        self._rng = rng or random.Random()
        #: the Tw (with its jitter) last drawn: every received message pushes the watchdog this far again, a
        #: new draw per message being a random number per relayed message for nothing (one per DWR suffices)
        self._last_tw = self.policy.tw
        self._actions: list[Action] = []
        self._r_cer: Message | None = None
        self._deadline: float | None = None  # connect / CEA / DPA deadline
        self._watchdog_at: float | None = None
        self._reconnect_at: float | None = None
        self._dwr_pending = False
        self._auto_reconnect = self.policy.initiate
        #: whether answers are in flight on a connection, either way (set by the node): after DPR/DPA the
        #: connection is kept until they are exchanged, as RFC 6733 §5.4 wants and freeDiameter's
        #: CLOSING_GRACE does, instead of losing them
        self.in_flight: Callable[[Any], bool] | None = None
        #: the node has relayed or sent requests to this peer: stopping, it gets its DPR after the peers that
        #: may still send requests for it (`NodeCore.stop`)
        self.upstream = False
        self._lingering: tuple[str, int | None] | None = None  # why and the Disconnect-Cause, once DPR/DPA done
        self._grace_until = 0.0

    # --- adapter interface ------------------------------------------------------------------------
    def drain(self) -> list[Action]:
        out, self._actions = self._actions, []
        return out

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def next_timer(self) -> float | None:
        """The earliest of the peer's timers (asked after every message received: no list built)."""
        best = self._deadline
        for t in (self._watchdog_at, self._reconnect_at):
            if t is not None and (best is None or t < best):
                best = t
        return best

    def start(self, now: float) -> None:
        """Start event: connect (only from Closed; a no-op otherwise)."""
        self._auto_reconnect = self.policy.initiate
        self._reconnect_at = None
        if self.state is State.CLOSED:
            self._emit(Connect())
            self._deadline = now + self.policy.cer_timeout
            self._set(State.WAIT_CONN_ACK)

    def stop(self, now: float, cause: DisconnectCause = DisconnectCause.REBOOTING) -> None:
        """Stop event: DPR on the open connection, or drop whatever is in progress."""
        self._auto_reconnect = False
        self._reconnect_at = None
        if self.is_open:
            self._emit(Send(self.conn, make_dpr(self.local.identity, cause)))
            self._deadline = now + self.policy.dpa_timeout
            self._watchdog_at = None
            self._set(State.CLOSING)
        elif self.state is not State.CLOSED and self.state is not State.CLOSING:
            self._error(now, "stopped", reconnect=False)

    def conn_ack(self, conn: Any, now: float) -> None:
        """I-Rcv-Conn-Ack: our outgoing connection is up."""
        if self.state is State.WAIT_CONN_ACK:
            self.i_conn = conn
            self._emit(Send(conn, make_cer(self.local)))
            self._deadline = now + self.policy.cer_timeout
            self._set(State.WAIT_I_CEA)
        elif self.state is State.WAIT_CONN_ACK_ELECT:
            self.i_conn = conn
            self._emit(Send(conn, make_cer(self.local)))
            self._deadline = now + self.policy.cer_timeout
            self._set(State.WAIT_RETURNS)
            self._elect(now)
        else:  # late connect completion we no longer want
            self._emit(Disconnect(conn))

    def conn_nack(self, now: float, reason: str = "connection refused") -> None:
        """I-Rcv-Conn-Nack: our outgoing connection failed."""
        if self.state is State.WAIT_CONN_ACK:
            self._closed(now, reason)
        elif self.state is State.WAIT_CONN_ACK_ELECT:
            self._accept_r(now)

    def r_conn_cer(self, conn: Any, cer: Message, now: float) -> None:
        """R-Conn-CER: the peer connected to us and sent a CER (already authorised by the node)."""
        st = self.state
        if st is State.CLOSED:
            self.r_conn = conn
            self._r_cer = cer
            self._accept_r(now)
        elif st is State.WAIT_CONN_ACK:
            self.r_conn = conn
            self._r_cer = cer
            self._set(State.WAIT_CONN_ACK_ELECT)
        elif st is State.WAIT_I_CEA:
            self.r_conn = conn
            self._r_cer = cer
            self._set(State.WAIT_RETURNS)
            self._elect(now)
        else:  # R-Reject: we already have (or are choosing) a connection
            self._emit(Send(conn, make_cea(cer, self.local, ResultCode.ELECTION_LOST,
                                           "a connection with this peer already exists")))
            self._emit(Disconnect(conn))

    def disconnected(self, conn: Any, now: float) -> None:
        """I-Peer-Disc / R-Peer-Disc: the transport connection went away."""
        if conn is None:
            return
        is_i = conn is self.i_conn
        is_r = conn is self.r_conn
        if is_i:
            self.i_conn = None
        if is_r:
            self.r_conn = None
            self._r_cer = None
        if not (is_i or is_r):
            return
        st = self.state
        if st is State.WAIT_RETURNS:
            if is_i and self._r_cer is not None:
                self._accept_r(now)
            elif is_r:
                self._set(State.WAIT_I_CEA)
            return
        if st is State.WAIT_CONN_ACK_ELECT and is_r:
            self._set(State.WAIT_CONN_ACK)
            return
        if conn is self.conn or st in (State.WAIT_I_CEA, State.CLOSING):
            self._closed(now, "connection lost" if st is not State.CLOSING else "disconnected")

    def receive(self, conn: Any, msg: Message, now: float) -> None:
        """A decoded message arrived on ``conn``."""
        st = self.state
        code = msg.code
        if st is State.WAIT_I_CEA or (st is State.WAIT_RETURNS and conn is self.i_conn):
            if conn is self.i_conn and code == Cmd.CAPABILITIES_EXCHANGE and not msg.is_request:
                self._process_cea(msg, now)
            elif conn is self.i_conn:
                self._error(now, f"expected CEA, got command {code}")
            return
        if st in OPEN_STATES:
            if conn is not self.conn:
                return
            self._watchdog_at = now + self._last_tw  # any traffic resets the watchdog (RFC 3539)
            self.suspect = False  # RFC 3539 §3.4.1: any message received in SUSPECT returns to OKAY
            if code == Cmd.DEVICE_WATCHDOG:
                if msg.is_request:
                    self._emit(Send(conn, make_dwa(msg, self.local.identity)))
                else:
                    self._dwr_pending = False
                return
            if code == Cmd.DISCONNECT_PEER and msg.is_request:
                self._emit(Send(conn, make_dpa(msg, self.local.identity)))
                try:
                    cause = msg.get("Disconnect-Cause", DisconnectCause.REBOOTING)
                except (DiameterError, ValueError):  # malformed: the peer still wants to go
                    cause = DisconnectCause.REBOOTING
                self._close_after_answers(now, f"peer sent DPR ({_cause_name(cause)})", int(cause))
                return
            if code == Cmd.CAPABILITIES_EXCHANGE:
                if msg.is_request:
                    self._emit(Send(conn, make_cea(msg, self.local, ResultCode.SUCCESS)))
                return
            self._emit(Deliver(conn, msg))
            return
        if st is State.CLOSING and conn is self.conn:
            if code == Cmd.DISCONNECT_PEER:
                if msg.is_request:
                    self._emit(Send(conn, make_dpa(msg, self.local.identity)))
                if self._lingering is None:
                    self._close_after_answers(now, "DPR crossed ours" if msg.is_request else "DPA received")
            elif code != Cmd.DEVICE_WATCHDOG:
                self._emit(Deliver(conn, msg))  # answers to requests sent before Stop still count

    def app_traffic(self, conn: Any, now: float) -> bool:
        """An application message (not CER/DWR/DPR) arrived on ``conn``: what `receive` does before it
        emits Deliver, without a decoded message (the relay forwards bytes). True if it is to be delivered."""
        st = self.state
        if st in OPEN_STATES:
            if conn is not self.conn:
                return False
            self._watchdog_at = now + self._last_tw
            self.suspect = False
            return True
        return st is State.CLOSING and conn is self.conn

    def handle_timer(self, now: float) -> None:
        if self._deadline is not None and now >= self._deadline:
            self._deadline = None
            if self._lingering is not None:
                self._close_after_answers(now, *self._lingering)
            elif self.state is State.CLOSING:
                self._closed(now, "no DPA before timeout")
            elif not self.is_open and self.state is not State.CLOSED:
                self._error(now, f"timeout in {self.state.value}")
        if self._watchdog_at is not None and now >= self._watchdog_at and self.is_open:
            if not self._dwr_pending:
                self._dwr_pending = True
                self._emit(Send(self.conn, make_dwr(self.local.identity)))
                self._watchdog_at = now + self._tw()
            elif not self.suspect:
                self.suspect = True  # RFC 3539 SUSPECT: fail over, one more Tw before DOWN
                log.warning("peer %s: no DWA within Tw, suspect", self.name)
                self._watchdog_at = now + self._tw()
            else:
                self._error(now, "watchdog: no answer within 2*Tw")
        if self._reconnect_at is not None and now >= self._reconnect_at:
            self._reconnect_at = None
            if self.state is State.CLOSED and self._auto_reconnect:
                self.start(now)

    def send(self, msg: Message) -> Any:
        """Send-Message on the open connection; returns the connection used."""
        if not self.is_open:
            raise ConnectionError(f"peer {self.name} is {self.state.value}")
        self._emit(Send(self.conn, msg))
        return self.conn

    # --- internals -------------------------------------------------------------------------------
    def _tw(self) -> float:
        j = self.policy.jitter
        tw = self._last_tw = max(self.policy.tw + self._rng.uniform(-j, j), self.policy.tw / 2)
        return tw

    def _emit(self, action: Action) -> None:
        self._actions.append(action)

    def _set(self, state: State) -> None:
        if state is not self.state:
            log.debug("peer %s: %s -> %s", self.name, self.state.value, state.value)
            self.state = state
            self.transitions += 1

    def _elect(self, now: float) -> None:
        """RFC 6733 §5.6.4: the higher Origin-Host wins and keeps its responder connection."""
        assert self._r_cer is not None
        remote = str(self._r_cer.get("Origin-Host", "")).encode()
        if self.local.identity.origin_host.encode() > remote:
            if self.i_conn is not None:
                self._emit(Disconnect(self.i_conn))
                self.i_conn = None
            self._accept_r(now)
        # else: we lost; wait for the CEA on our connection, the peer drops the other one

    def _accept_r(self, now: float) -> None:
        """Process-CER and R-Snd-CEA on the responder connection."""
        cer, conn = self._r_cer, self.r_conn
        assert cer is not None
        apps = common_applications(self.local.applications, remote_applications(cer))
        if not apps:
            self._emit(Send(conn, make_cea(cer, self.local, ResultCode.NO_COMMON_APPLICATION,
                                           "no common application")))
            self._emit(Disconnect(conn))
            self.r_conn = None
            self._closed(now, "no common application", reconnect=False)
            return
        self._emit(Send(conn, make_cea(cer, self.local, ResultCode.SUCCESS)))
        self._open(conn, State.R_OPEN, summarise(cer), apps, now)

    def _process_cea(self, cea: Message, now: float) -> None:
        # The CEA is not validated against its CCF (lenient towards peers' extras), but every value
        # read from it must decode: a malformed one closes the connection instead of raising.
        try:
            rc = cea.get("Result-Code")
            if rc == ResultCode.SUCCESS:
                remote_apps = remote_applications(cea)
                remote = summarise(cea)
        except (DiameterError, ValueError) as err:
            self._error(now, f"malformed CEA: {err}")
            return
        if rc != ResultCode.SUCCESS:
            self._error(now, f"CEA Result-Code {rc}", reconnect=rc != ResultCode.NO_COMMON_APPLICATION)
            return
        apps = common_applications(self.local.applications, remote_apps)
        if not apps:
            self._error(now, "no common application in CEA", reconnect=False)
            return
        if self.r_conn is not None:  # Wait-Returns, I-Rcv-CEA: R-Disc
            self._emit(Disconnect(self.r_conn))
            self.r_conn = None
            self._r_cer = None
        self._open(self.i_conn, State.I_OPEN, remote, apps, now)

    def _open(self, conn: Any, state: State, remote: dict[str, Any], apps: frozenset[int], now: float) -> None:
        self.conn = conn
        self.applications = apps
        self.remote = remote
        self.realm = str(remote.get("origin_realm", "")).lower()
        self._deadline = None
        self._dwr_pending = False
        self.suspect = False
        self._watchdog_at = now + self._tw()
        self._set(state)
        self._emit(PeerUp(conn, apps, self.remote))

    def _close_after_answers(self, now: float, reason: str, cause: int | None = None) -> None:
        """DPR/DPA exchanged: close now if no answer is in flight on the connection, else keep it (Closing)
        until there is none or the grace is over, asking every `GRACE_POLL` seconds."""
        if self._lingering is None:
            self._grace_until = now + self.policy.grace
        in_flight = self.in_flight
        if now < self._grace_until and in_flight is not None and in_flight(self.conn):
            self._lingering = (reason, cause)
            self._watchdog_at = None
            self._deadline = min(now + GRACE_POLL, self._grace_until)
            self._set(State.CLOSING)
            return
        if self._lingering is not None and now >= self._grace_until:
            reason += ", answers still in flight after the grace"
        self._closed(now, reason, cause=cause)

    def _error(self, now: float, reason: str, reconnect: bool = True) -> None:
        self._closed(now, reason, reconnect=reconnect)  # _closed disconnects every connection, once

    def _closed(self, now: float, reason: str, cause: int | None = None, reconnect: bool = True) -> None:
        was_open = self.is_open or self.state is State.CLOSING
        for c in {id(x): x for x in (self.i_conn, self.r_conn, self.conn) if x is not None}.values():
            self._emit(Disconnect(c))
        self.i_conn = self.r_conn = self.conn = None
        self._r_cer = None
        self._deadline = self._watchdog_at = None
        self._lingering = None
        self._dwr_pending = False
        self.suspect = False
        self.applications = frozenset()
        self._set(State.CLOSED)
        if was_open:
            self._emit(PeerDown(reason))
        log.info("peer %s closed: %s", self.name, reason)
        if cause == DisconnectCause.DO_NOT_WANT_TO_TALK_TO_YOU:
            reconnect = False
        if reconnect and self._auto_reconnect:
            delay = self.policy.tc * (self.policy.busy_backoff if cause == DisconnectCause.BUSY else 1)
            self._reconnect_at = now + delay
        elif cause == DisconnectCause.DO_NOT_WANT_TO_TALK_TO_YOU:
            self._auto_reconnect = False


def _cause_name(cause: Any) -> str:
    try:
        return DisconnectCause(int(cause)).name
    except (ValueError, TypeError):
        return str(cause)
