"""The metric families: one catalogue that the Prometheus text and the SNMP tree are both built from.

Every family is stored under a short name with positional labels (see ``registry``); this module gives
each its Prometheus name, help text and label names, and holds the functions other areas call to count
their events (database, authentication, vectors, subscribers) in the process-wide registry.
"""

from __future__ import annotations

from dataclasses import dataclass

from sigcore.diameter.peer import State
from sigcore.metrics.registry import Registry

DIA_ANSWERS = "dia_answers"  # (app, cmd, result_vendor, result_code); vendor 0 = Result-Code
DIA_LATENCY = "dia_latency"  # histogram (app, cmd)
PEER_TRANSITIONS = "peer_transitions"  # (peer,)
PEER_EVENTS = "peer_events"  # (peer, "up" | "down")
PEER_STATE = "peer_state"  # gauge (peer,): PEER_STATE_CODES
DB_OPS = "db_ops"  # (operation,)
DB_ERRORS = "db_errors"  # (operation,)
DB_LATENCY = "db_latency"  # histogram (operation,)
AUTH_FAILURES = "auth_failures"  # (kind,): "mac" | "sqn"
VECTORS_ISSUED = "vectors_issued"  # (kind,): "eutran" | "utran" | "ims"
ACTIVE_SUBSCRIBERS = "active_subscribers"  # gauge ()
FLUSH_FAILURES = "metrics_flush_failures"  # ()
DRA_RELAYED = "dra_relayed"  # (route, peer): requests sent to the peer (failovers included)
DRA_ANSWERS = "dra_answers"  # (route, peer, result class "2xxx".."5xxx" | "none")
DRA_FAILOVERS = "dra_failovers"  # (route, peer): requests moved on from this peer
DRA_TIMEOUTS = "dra_timeouts"  # (route, peer)
DRA_LOOPED = "dra_looped"  # (peer the request came from,): answered 3005
DRA_LOCAL_ANSWERS = "dra_local_answers"  # (route, result code): answered by the DRA (3002, 3006, hooks)
DRA_SCRIPT_ERRORS = "dra_script_errors"  # (script,)
DRA_LATENCY = "dra_latency"  # histogram (route, peer)

#: SIGCORE-MIB ``SigcorePeerState`` enumeration; 0 is never used (SNMP enumerations start at 1 by habit).
PEER_STATE_CODES: dict[State, int] = {
    State.CLOSED: 1,
    State.WAIT_CONN_ACK: 2,
    State.WAIT_I_CEA: 3,
    State.WAIT_CONN_ACK_ELECT: 4,
    State.WAIT_RETURNS: 5,
    State.R_OPEN: 6,
    State.I_OPEN: 7,
    State.CLOSING: 8,
}
OPEN_CODES = frozenset({PEER_STATE_CODES[State.R_OPEN], PEER_STATE_CODES[State.I_OPEN]})


@dataclass(frozen=True, slots=True)
class Family:
    key: str
    prom_name: str
    kind: str  # "counter" | "gauge" | "histogram"
    help: str
    labels: tuple[str, ...]


FAMILIES: tuple[Family, ...] = (
    Family(DIA_ANSWERS, "sigcore_diameter_answers_total", "counter",
           "Diameter answers sent, per application, command and result (vendor 0: Result-Code, "
           "else Experimental-Result of that vendor).",
           ("application_id", "command_code", "result_vendor", "result_code")),
    Family(DIA_LATENCY, "sigcore_diameter_request_duration_seconds", "histogram",
           "Time from the request's frame arrival to its answer being written.", ("application_id", "command_code")),
    Family(PEER_TRANSITIONS, "sigcore_peer_transitions_total", "counter",
           "RFC 6733 peer state machine transitions.", ("peer",)),
    Family(PEER_EVENTS, "sigcore_peer_events_total", "counter", "Peer connections opened and lost.",
           ("peer", "event")),
    Family(PEER_STATE, "sigcore_peer_state", "gauge",
           "Peer state (1 Closed .. 6 R-Open, 7 I-Open, 8 Closing), the most open over all processes.",
           ("peer",)),
    Family(DB_OPS, "sigcore_db_operations_total", "counter", "Database operations.", ("operation",)),
    Family(DB_ERRORS, "sigcore_db_errors_total", "counter", "Database operations that failed.", ("operation",)),
    Family(DB_LATENCY, "sigcore_db_duration_seconds", "histogram", "Database operation latency.", ("operation",)),
    Family(AUTH_FAILURES, "sigcore_auth_failures_total", "counter",
           "Authentication failures reported by UEs (MAC) and re-synchronisations (SQN).", ("kind",)),
    Family(VECTORS_ISSUED, "sigcore_vectors_issued_total", "counter", "Authentication vectors issued.", ("kind",)),
    Family(ACTIVE_SUBSCRIBERS, "sigcore_active_subscribers", "gauge",
           "Subscribers with a serving node registered (as last reported).", ()),
    Family(FLUSH_FAILURES, "sigcore_metrics_flush_failures_total", "counter",
           "Metric flushes to Redis that failed (the counts are kept and sent later).", ()),
    Family(DRA_RELAYED, "sigcore_dra_relayed_total", "counter",
           "Requests the DRA sent to a peer (failover re-sends included).", ("route", "peer")),
    Family(DRA_ANSWERS, "sigcore_dra_answers_total", "counter",
           "Answers the DRA relayed back, per route, answering peer and result class.",
           ("route", "peer", "result_class")),
    Family(DRA_FAILOVERS, "sigcore_dra_failovers_total", "counter",
           "Requests moved on from a peer (down, timed out, 3002 or 3004) to the next candidate.", ("route", "peer")),
    Family(DRA_TIMEOUTS, "sigcore_dra_timeouts_total", "counter",
           "Relayed requests a peer did not answer within diameter.timers.request_timeout.", ("route", "peer")),
    Family(DRA_LOOPED, "sigcore_dra_looped_total", "counter",
           "Requests answered 3005 LOOP_DETECTED (own identity in Route-Record).", ("from_peer",)),
    Family(DRA_LOCAL_ANSWERS, "sigcore_dra_local_answers_total", "counter",
           "Requests the DRA answered itself (3002, 3003, 3006 redirect, hooks).", ("route", "result_code")),
    Family(DRA_SCRIPT_ERRORS, "sigcore_dra_script_errors_total", "counter",
           "Errors raised (or wrong values returned) by dra.pyform and dra.hooks scripts.", ("script",)),
    Family(DRA_LATENCY, "sigcore_dra_relay_duration_seconds", "histogram",
           "Time from a relayed request's arrival to its answer being sent back.", ("route", "peer")),
)
BY_KEY = {f.key: f for f in FAMILIES}

#: The registry of this process. Areas record into it; ``sigcore.metrics.service`` flushes it.
REGISTRY = Registry()


def record_db(operation: str, seconds: float, ok: bool = True, registry: Registry = REGISTRY) -> None:
    """One database operation (``operation`` is a short fixed name such as ``reserve_sqn``)."""
    registry.inc((DB_OPS, operation))
    if not ok:
        registry.inc((DB_ERRORS, operation))
    registry.observe(DB_LATENCY, (operation,), seconds)


def auth_failure(kind: str, registry: Registry = REGISTRY) -> None:
    """``kind`` is ``"mac"`` (UE rejected the network) or ``"sqn"`` (re-synchronisation requested)."""
    registry.inc((AUTH_FAILURES, kind))


def vectors_issued(kind: str, count: int = 1, registry: Registry = REGISTRY) -> None:
    registry.inc((VECTORS_ISSUED, kind), count)


def set_active_subscribers(count: int, registry: Registry = REGISTRY) -> None:
    registry.set((ACTIVE_SUBSCRIBERS,), count)
