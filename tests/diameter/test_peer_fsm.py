"""The RFC 6733 §5.6 peer state machine and RFC 3539 watchdog, driven sans-IO with a fake clock.

Connections are plain sentinel objects; the test plays the adapter: it feeds events with ``now`` and
reads the actions the peer asks for.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from frames import with_payload
from rawpeer import ccr

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.answers import Identity, answer
from sigcore.diameter.avp import Avp
from sigcore.diameter.capabilities import LocalCapabilities, make_cea, make_cer, make_dpr, make_dwr
from sigcore.diameter.constants import AVP_MANDATORY, Cmd, DisconnectCause, ResultCode
from sigcore.diameter.events import Action, Connect, Deliver, Disconnect, PeerDown, PeerUp, Send
from sigcore.diameter.message import Message
from sigcore.diameter.peer import GRACE_POLL, Peer, PeerPolicy, State

TW, TC = 30.0, 20.0
LOCAL, REMOTE = "mid.localdomain", "remote.localdomain"


class Conn:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Conn({self.name})"


def caps(origin: str, apps: dict[int, int] | None = None) -> LocalCapabilities:
    return LocalCapabilities(Identity(origin, "localdomain"), auth_apps={4: 0} if apps is None else apps)


def make_peer(initiate: bool = True, jitter: float = 0.0, origin: str = LOCAL) -> Peer:
    policy = PeerPolicy(tw=TW, tc=TC, cer_timeout=10.0, dpa_timeout=5.0, jitter=jitter, initiate=initiate)
    return Peer(REMOTE, caps(origin), policy, rng=random.Random(7))


def remote_cer(origin: str = REMOTE, apps: dict[int, int] | None = None) -> Message:
    return Message.decode(make_cer(caps(origin, apps)).encode())


def remote_cea(peer: Peer, result: int = ResultCode.SUCCESS, apps: dict[int, int] | None = None,
               origin: str = REMOTE) -> Message:
    return Message.decode(make_cea(make_cer(peer.local), caps(origin, apps), result).encode())


def sends(actions: list[Action], conn: Any = None) -> list[Message]:
    return [a.message for a in actions if isinstance(a, Send) and (conn is None or a.conn is conn)]


def disconnects(actions: list[Action]) -> list[Any]:
    return [a.conn for a in actions if isinstance(a, Disconnect)]


def of_type(actions: list[Action], kind: type) -> list[Any]:
    return [a for a in actions if isinstance(a, kind)]


def waiting_for_cea(peer: Peer, now: float = 0.0) -> Conn:
    """Start the peer and complete its connection: it has sent its CER (actions drained)."""
    conn = Conn("i")
    peer.start(now)
    peer.conn_ack(conn, now)
    peer.drain()
    return conn


def open_as_initiator(peer: Peer, now: float = 0.0) -> Conn:
    conn = waiting_for_cea(peer, now)
    peer.receive(conn, remote_cea(peer), now)
    peer.drain()
    assert peer.state is State.I_OPEN
    return conn


def dwa_for(dwr: Message) -> Message:
    return answer(dwr, Identity(REMOTE, "localdomain"), ResultCode.SUCCESS)


# --- opening ---------------------------------------------------------------------------------------

def test_initiator_open() -> None:
    peer = make_peer()
    peer.start(0.0)
    assert peer.drain() == [Connect()]
    assert peer.state is State.WAIT_CONN_ACK
    conn = Conn("i")
    peer.conn_ack(conn, 0.5)
    (cer,) = sends(peer.drain(), conn)
    assert (cer.code, cer.is_request, cer["Origin-Host"]) == (Cmd.CAPABILITIES_EXCHANGE, True, LOCAL)
    assert D.validate(cer) is not None
    assert peer.state is State.WAIT_I_CEA
    peer.receive(conn, remote_cea(peer), 1.0)
    (up,) = of_type(peer.drain(), PeerUp)
    assert peer.state is State.I_OPEN and peer.is_open
    assert up.conn is conn and up.applications == frozenset({4})
    assert up.capabilities["origin_host"] == REMOTE


def test_responder_open() -> None:
    peer = make_peer(initiate=False)
    conn = Conn("r")
    peer.r_conn_cer(conn, remote_cer(), 0.0)
    actions = peer.drain()
    (cea,) = sends(actions, conn)
    assert cea["Result-Code"] == ResultCode.SUCCESS and not cea.is_request
    assert D.validate(cea) is not None
    assert of_type(actions, PeerUp)[0].conn is conn
    assert peer.state is State.R_OPEN


def test_responder_without_common_application_answers_5010_and_disconnects() -> None:
    peer = make_peer(initiate=True)
    conn = Conn("r")
    peer.r_conn_cer(conn, remote_cer(apps={16777251: 10415}), 0.0)
    actions = peer.drain()
    (cea,) = sends(actions, conn)
    assert cea["Result-Code"] == ResultCode.NO_COMMON_APPLICATION
    assert disconnects(actions) == [conn]
    assert actions.index(Send(conn, cea)) < actions.index(Disconnect(conn))
    assert peer.state is State.CLOSED and not of_type(actions, PeerUp)
    assert peer.next_timer() is None  # no reconnect to a peer we share nothing with


def test_relay_application_matches_everything() -> None:
    peer = make_peer(initiate=False)
    peer.r_conn_cer(Conn("r"), remote_cer(apps={0xFFFFFFFF: 0}), 0.0)
    assert of_type(peer.drain(), PeerUp)[0].applications == frozenset({4})


def test_initiator_cea_without_common_application_closes_for_good() -> None:
    peer = make_peer()
    conn = waiting_for_cea(peer)
    peer.receive(conn, remote_cea(peer, apps={16777251: 10415}), 1.0)
    assert disconnects(peer.drain()) == [conn]
    assert peer.state is State.CLOSED and peer.next_timer() is None


@pytest.mark.parametrize("initiate", [True, False])
def test_cea_with_an_error_closes_and_reconnects_after_tc_for_initiating_peers(initiate: bool) -> None:
    peer = make_peer(initiate=initiate)
    conn = waiting_for_cea(peer)
    peer.receive(conn, remote_cea(peer, ResultCode.UNKNOWN_PEER), 1.0)
    actions = peer.drain()
    assert disconnects(actions) == [conn] and not of_type(actions, PeerDown)  # never was up
    assert peer.state is State.CLOSED
    if not initiate:
        assert peer.next_timer() is None
        return
    assert peer.next_timer() == 1.0 + TC
    peer.handle_timer(1.0 + TC - 0.01)
    assert peer.drain() == []
    peer.handle_timer(1.0 + TC)
    assert peer.drain() == [Connect()] and peer.state is State.WAIT_CONN_ACK


def test_connection_refused_retries_after_tc() -> None:
    peer = make_peer()
    peer.start(0.0)
    peer.drain()
    peer.conn_nack(0.2)
    assert peer.state is State.CLOSED and peer.next_timer() == 0.2 + TC


def test_no_cea_before_the_timeout_closes() -> None:
    peer = make_peer()
    conn = waiting_for_cea(peer)
    peer.handle_timer(peer.next_timer() or 0.0)
    assert disconnects(peer.drain()) == [conn] and peer.state is State.CLOSED


# --- election (RFC 6733 §5.6.4) --------------------------------------------------------------------

@pytest.mark.parametrize(("local", "won"), [("z.localdomain", True), ("a.localdomain", False)])
def test_election_from_wait_i_cea(local: str, won: bool) -> None:
    peer = make_peer(origin=local)
    i_conn, r_conn = waiting_for_cea(peer), Conn("r")
    peer.r_conn_cer(r_conn, remote_cer(), 0.5)
    actions = peer.drain()
    if won:  # higher Origin-Host keeps the responder connection
        assert disconnects(actions) == [i_conn]
        assert sends(actions, r_conn)[0]["Result-Code"] == ResultCode.SUCCESS
        assert peer.state is State.R_OPEN and peer.conn is r_conn
        return
    assert actions == [] and peer.state is State.WAIT_RETURNS
    peer.disconnected(r_conn, 0.6)  # the winner drops its initiator connection: our responder one
    assert peer.state is State.WAIT_I_CEA
    peer.receive(i_conn, remote_cea(peer), 0.7)
    assert of_type(peer.drain(), PeerUp) and peer.state is State.I_OPEN and peer.conn is i_conn


def test_election_lost_and_cea_arrives_first_drops_the_responder_connection() -> None:
    peer = make_peer(origin="a.localdomain")
    i_conn, r_conn = waiting_for_cea(peer), Conn("r")
    peer.r_conn_cer(r_conn, remote_cer(), 0.5)
    peer.drain()
    peer.receive(i_conn, remote_cea(peer), 0.7)
    actions = peer.drain()
    assert disconnects(actions) == [r_conn]
    assert peer.state is State.I_OPEN and peer.conn is i_conn


@pytest.mark.parametrize(("local", "won"), [("z.localdomain", True), ("a.localdomain", False)])
def test_election_from_wait_conn_ack_elect(local: str, won: bool) -> None:
    peer = make_peer(origin=local)
    i_conn, r_conn = Conn("i"), Conn("r")
    peer.start(0.0)
    peer.r_conn_cer(r_conn, remote_cer(), 0.1)
    assert peer.state is State.WAIT_CONN_ACK_ELECT
    peer.drain()
    peer.conn_ack(i_conn, 0.2)
    actions = peer.drain()
    assert sends(actions, i_conn)[0].code == Cmd.CAPABILITIES_EXCHANGE  # I-Snd-CER, then Elect
    if won:
        assert disconnects(actions) == [i_conn]
        assert peer.state is State.R_OPEN and peer.conn is r_conn
    else:
        assert disconnects(actions) == [] and peer.state is State.WAIT_RETURNS


def test_connect_failure_while_electing_accepts_the_responder() -> None:
    peer = make_peer()
    r_conn = Conn("r")
    peer.start(0.0)
    peer.r_conn_cer(r_conn, remote_cer(), 0.1)
    peer.drain()
    peer.conn_nack(0.2)
    assert sends(peer.drain(), r_conn)[0]["Result-Code"] == ResultCode.SUCCESS
    assert peer.state is State.R_OPEN


def test_second_cer_while_open_is_rejected_on_its_own_connection() -> None:
    peer = make_peer()
    conn = open_as_initiator(peer)
    other = Conn("r2")
    peer.r_conn_cer(other, remote_cer(), 1.0)
    actions = peer.drain()
    (cea,) = sends(actions, other)
    assert cea["Result-Code"] == ResultCode.ELECTION_LOST
    assert disconnects(actions) == [other]
    assert peer.state is State.I_OPEN and peer.conn is conn


# --- watchdog (RFC 3539) ---------------------------------------------------------------------------

def test_dwr_after_tw_of_silence_and_dwa_clears_it() -> None:
    peer = make_peer()
    conn = open_as_initiator(peer)
    assert peer.next_timer() == TW
    peer.handle_timer(TW - 0.5)
    assert peer.drain() == []
    peer.handle_timer(TW)
    (dwr,) = sends(peer.drain(), conn)
    assert dwr.code == Cmd.DEVICE_WATCHDOG and dwr.is_request
    peer.receive(conn, dwa_for(dwr), TW + 1)
    assert peer.drain() == [] and not peer.suspect
    assert peer.next_timer() == TW + 1 + TW
    peer.handle_timer(TW + 1 + TW)
    assert sends(peer.drain(), conn)[0].code == Cmd.DEVICE_WATCHDOG  # a fresh DWR, not suspicion


def test_tw_is_jittered_within_two_seconds() -> None:
    delays = []
    for seed in range(40):
        peer = Peer(REMOTE, caps(LOCAL), PeerPolicy(tw=TW, jitter=2.0, initiate=True), random.Random(seed))
        open_as_initiator(peer)
        delays.append(peer.next_timer() or 0.0)
    assert all(TW - 2 <= d <= TW + 2 for d in delays)
    assert len(set(delays)) > 1


def test_no_dwa_makes_the_peer_suspect_then_closes_after_another_tw() -> None:
    peer = make_peer()
    conn = open_as_initiator(peer)
    peer.handle_timer(TW)
    peer.drain()
    peer.handle_timer(2 * TW)
    assert peer.suspect and peer.is_open and peer.drain() == []
    peer.handle_timer(3 * TW)
    actions = peer.drain()
    assert disconnects(actions) == [conn] and of_type(actions, PeerDown)
    assert peer.state is State.CLOSED
    assert peer.next_timer() == 3 * TW + TC  # initiating peer: reconnect after Tc


def test_any_traffic_resets_the_watchdog() -> None:
    peer = make_peer()
    conn = open_as_initiator(peer)
    request = ccr()
    peer.receive(conn, request, TW - 1)
    assert peer.drain() == [Deliver(conn, request)]
    assert peer.next_timer() == 2 * TW - 1
    peer.handle_timer(TW)
    assert peer.drain() == []


def test_traffic_while_suspect_recovers() -> None:
    peer = make_peer()
    conn = open_as_initiator(peer)
    peer.handle_timer(TW)
    peer.handle_timer(2 * TW)
    assert peer.suspect
    peer.receive(conn, ccr(), 2 * TW + 1)
    assert not peer.suspect


def test_dwr_from_the_peer_while_suspect_recovers() -> None:
    """RFC 3539 §3.4.1: in SUSPECT any message received (not only a DWA) returns to OKAY."""
    peer = make_peer()
    conn = open_as_initiator(peer)
    peer.handle_timer(TW)
    peer.handle_timer(2 * TW)
    peer.drain()
    peer.receive(conn, make_dwr(Identity(REMOTE, "localdomain")), 2 * TW + 1)
    assert not peer.suspect
    assert sends(peer.drain(), conn)[0].code == Cmd.DEVICE_WATCHDOG


def test_dwr_is_answered_with_dwa() -> None:
    peer = make_peer()
    conn = open_as_initiator(peer)
    dwr = make_dwr(Identity(REMOTE, "localdomain"))
    dwr.hop_by_hop = 99
    peer.receive(conn, dwr, 1.0)
    (dwa,) = sends(peer.drain(), conn)
    assert (dwa.code, dwa.is_request, dwa.hop_by_hop, dwa["Result-Code"]) == (280, False, 99, 2001)


# --- disconnecting -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("cause", "reconnect_after"),
    [(DisconnectCause.REBOOTING, TC), (DisconnectCause.BUSY, TC * PeerPolicy().busy_backoff),
     (DisconnectCause.DO_NOT_WANT_TO_TALK_TO_YOU, None)],
)
def test_dpr_received_is_answered_and_honours_disconnect_cause(
        cause: DisconnectCause, reconnect_after: float | None) -> None:
    peer = make_peer()
    conn = open_as_initiator(peer)
    peer.receive(conn, make_dpr(Identity(REMOTE, "localdomain"), cause), 5.0)
    actions = peer.drain()
    (dpa,) = sends(actions, conn)
    assert (dpa.code, dpa.is_request, dpa["Result-Code"]) == (Cmd.DISCONNECT_PEER, False, 2001)
    assert disconnects(actions) == [conn]
    assert actions.index(Send(conn, dpa)) < actions.index(Disconnect(conn))
    assert of_type(actions, PeerDown) and peer.state is State.CLOSED
    if reconnect_after is None:
        assert peer.next_timer() is None
        peer.handle_timer(1e9)
        assert peer.drain() == []
        return
    assert reconnect_after >= TC
    assert peer.next_timer() == 5.0 + reconnect_after
    peer.handle_timer(5.0 + reconnect_after)
    assert peer.drain() == [Connect()]


def test_dpr_with_a_malformed_disconnect_cause_still_closes() -> None:
    peer = make_peer()
    conn = open_as_initiator(peer)
    dpr = make_dpr(Identity(REMOTE, "localdomain"), DisconnectCause.BUSY)
    cause = D.build("Disconnect-Cause", 1)
    dpr.avps[-1] = with_payload(cause, b"\0\1")
    peer.receive(conn, Message.decode(dpr.encode()), 5.0)
    actions = peer.drain()
    assert sends(actions, conn)[0].code == Cmd.DISCONNECT_PEER
    assert disconnects(actions) == [conn] and peer.state is State.CLOSED


def test_stop_sends_dpr_and_dpa_closes() -> None:
    peer = make_peer()
    conn = open_as_initiator(peer)
    peer.stop(10.0, DisconnectCause.DO_NOT_WANT_TO_TALK_TO_YOU)
    (dpr,) = sends(peer.drain(), conn)
    assert dpr["Disconnect-Cause"] == DisconnectCause.DO_NOT_WANT_TO_TALK_TO_YOU
    assert peer.state is State.CLOSING
    answer_in_flight = Message(272, 4, 0x40, 5, 5, [])
    peer.receive(conn, answer_in_flight, 10.1)
    assert peer.drain() == [Deliver(conn, answer_in_flight)]  # answers to earlier requests still count
    peer.receive(conn, answer(dpr, Identity(REMOTE, "localdomain"), ResultCode.SUCCESS), 10.2)
    actions = peer.drain()
    assert disconnects(actions) == [conn] and of_type(actions, PeerDown)
    assert peer.state is State.CLOSED and peer.next_timer() is None


def test_stop_without_dpa_closes_after_the_timeout() -> None:
    peer = make_peer()
    conn = open_as_initiator(peer)
    peer.stop(10.0)
    peer.drain()
    assert peer.next_timer() == 15.0
    peer.handle_timer(14.9)
    assert peer.state is State.CLOSING
    peer.handle_timer(15.0)
    assert disconnects(peer.drain()) == [conn]
    assert peer.state is State.CLOSED and peer.next_timer() is None


@pytest.mark.parametrize("cause", [DisconnectCause.REBOOTING, DisconnectCause.DO_NOT_WANT_TO_TALK_TO_YOU])
def test_dpr_received_with_answers_in_flight_keeps_the_connection_until_they_are_exchanged(
        cause: DisconnectCause) -> None:
    """RFC 6733 §5.4 / freeDiameter's CLOSING_GRACE: after the DPA the connection stays for the answers in
    flight on it (either way), asked every GRACE_POLL seconds; no new request goes to the peer meanwhile."""
    peer = make_peer()
    conn = open_as_initiator(peer)
    in_flight = {conn}
    peer.in_flight = in_flight.__contains__
    peer.receive(conn, make_dpr(Identity(REMOTE, "localdomain"), cause), 5.0)
    actions = peer.drain()
    assert [m.code for m in sends(actions, conn)] == [Cmd.DISCONNECT_PEER] and disconnects(actions) == []
    assert peer.state is State.CLOSING and not peer.is_open and peer.next_timer() == 5.0 + GRACE_POLL
    late_answer = Message(272, 4, 0x40, 5, 5, [])
    peer.receive(conn, late_answer, 5.01)
    assert peer.drain() == [Deliver(conn, late_answer)]
    peer.handle_timer(5.0 + GRACE_POLL)
    assert peer.drain() == [] and peer.state is State.CLOSING
    in_flight.clear()
    peer.handle_timer(5.0 + 2 * GRACE_POLL)
    actions = peer.drain()
    assert disconnects(actions) == [conn] and of_type(actions, PeerDown) and peer.state is State.CLOSED
    # the peer's Disconnect-Cause still decides the reconnection
    assert (peer.next_timer() is None) == (cause == DisconnectCause.DO_NOT_WANT_TO_TALK_TO_YOU)


def test_after_our_dpr_the_dpa_closes_once_the_answers_in_flight_are_out_or_the_grace_is_over() -> None:
    peer = make_peer()
    conn = open_as_initiator(peer)
    peer.in_flight = lambda c: c is conn  # an answer we owe that never goes
    peer.stop(10.0)
    (dpr,) = sends(peer.drain(), conn)
    peer.receive(conn, answer(dpr, Identity(REMOTE, "localdomain"), ResultCode.SUCCESS), 10.1)
    assert disconnects(peer.drain()) == [] and peer.state is State.CLOSING
    grace_over = 10.1 + peer.policy.grace
    while (when := peer.next_timer()) is not None and when < grace_over:
        peer.handle_timer(when)
        assert disconnects(peer.drain()) == []
    assert peer.next_timer() == grace_over
    peer.handle_timer(grace_over)
    assert disconnects(peer.drain()) == [conn] and peer.state is State.CLOSED


def test_stop_before_open_drops_the_attempt() -> None:
    peer = make_peer()
    conn = waiting_for_cea(peer)
    peer.stop(1.0)
    assert disconnects(peer.drain()) == [conn]
    assert peer.state is State.CLOSED and peer.next_timer() is None
    peer.conn_ack(Conn("late"), 2.0)
    assert disconnects(peer.drain())[0].name == "late"


def test_transport_loss_while_open_closes_and_reconnects() -> None:
    peer = make_peer()
    conn = open_as_initiator(peer)
    peer.disconnected(conn, 3.0)
    assert of_type(peer.drain(), PeerDown) and peer.state is State.CLOSED
    assert peer.next_timer() == 3.0 + TC


# --- messages outside the open states ----------------------------------------------------------------

def test_messages_before_open_are_not_delivered() -> None:
    peer = make_peer()
    peer.receive(Conn("x"), ccr(), 0.0)
    assert peer.drain() == [] and peer.state is State.CLOSED
    with pytest.raises(ConnectionError):
        peer.send(ccr())
    conn = waiting_for_cea(peer)
    peer.receive(conn, ccr(), 0.5)  # not the CEA we wait for
    actions = peer.drain()
    assert not of_type(actions, Deliver) and disconnects(actions) == [conn]
    assert peer.state is State.CLOSED


def test_messages_on_another_connection_are_ignored_when_open() -> None:
    peer = make_peer()
    open_as_initiator(peer)
    peer.receive(Conn("stale"), ccr(), 1.0)
    assert peer.drain() == []


def test_send_uses_the_open_connection() -> None:
    peer = make_peer()
    conn = open_as_initiator(peer)
    request = ccr()
    assert peer.send(request) is conn
    assert peer.drain() == [Send(conn, request)]


@pytest.mark.parametrize(
    "breakage",
    [
        lambda cea: [with_payload(a, b"\0\0\7") if D.name_of(a) == "Result-Code" else a for a in cea.avps],
        lambda cea: [with_payload(a, b"\0\0\0\0") if D.name_of(a) == "Host-IP-Address" else a for a in cea.avps],
        lambda cea: [with_payload(a, b"\0\0\0\x63\0\0\0\x05") if D.name_of(a) == "Vendor-Specific-Application-Id"
                     else a for a in cea.avps],
    ],
    ids=["short-result-code", "bad-address-family", "truncated-group"],
)
def test_malformed_cea_closes_instead_of_raising(breakage: Any) -> None:
    peer = make_peer()
    conn = waiting_for_cea(peer)
    good = remote_cea(peer, apps={4: 0, 16777251: 10415})
    bad = Message(good.code, good.app_id, good.flags, good.hop_by_hop, good.end_to_end, breakage(good))
    peer.receive(conn, Message.decode(bad.encode()), 1.0)
    actions = peer.drain()
    assert disconnects(actions) == [conn] and not of_type(actions, PeerUp)
    assert peer.state is State.CLOSED and peer.next_timer() == 1.0 + TC


def test_unknown_avp_in_peer_messages_is_harmless() -> None:
    peer = make_peer(initiate=False)
    cer = remote_cer()
    cer.avps.append(Avp(4242, b"x", 0, 99999))
    peer.r_conn_cer(Conn("r"), cer, 0.0)
    assert peer.state is State.R_OPEN


def test_cea_with_extras_we_do_not_know_still_opens() -> None:
    """Only the values the state machine reads must be sound; a peer's unknown M-bit AVP in its CEA is
    not worth refusing the connection over."""
    peer = make_peer()
    conn = Conn("i")
    peer.start(0.0)
    peer.conn_ack(conn, 0.0)
    cea = remote_cea(peer)
    cea.avps.append(Avp(4242, b"x", AVP_MANDATORY, 99999))
    peer.receive(conn, Message.decode(cea.encode()), 1.0)
    assert peer.state is State.I_OPEN
