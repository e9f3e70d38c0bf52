"""The sans-IO node core (`sigcore.diameter.core.NodeCore`) with a fake clock: the test plays the adapter,
feeding frames with ``now`` and reading what the core asks for (writes, handler runs, timers).

Covered: the CER-first rule and peer authorisation, duplicate detection, answers matched to our requests,
local delivery vs forwarding, and the relay (RFC 6733 §6): Route-Record, hop-by-hop rewrite and restore,
Destination-Host routing, out-routing scores, 3002/3003/3005, failover on a lost connection, a timeout or a
3002/3004 answer with the T-flag, each request answered once, unknown applications byte-exact, and the
hooks (local delivery, forward callbacks on requests and answers, a local 3006 redirect)."""

from __future__ import annotations

from typing import Any

import pytest

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.answers import Identity, answer
from sigcore.diameter.application import Rejected
from sigcore.diameter.avp import Avp
from sigcore.diameter.capabilities import LocalCapabilities, make_cer
from sigcore.diameter.constants import FLAG_ERROR, FLAG_RETRANSMIT, AppId, ResultCode
from sigcore.diameter.core import NodeCore
from sigcore.diameter.message import Message, peek_header
from sigcore.diameter.peer import Peer, PeerPolicy
from sigcore.diameter.relay import ROUTE_RECORD, base_avps
from sigcore.diameter.routing import SCORE_NO_DELIVERY, InTransit

TIMEOUT = 4.0
RELAY = int(AppId.RELAY)
VENDOR_APP = 4242  # an application no dictionary knows


class Conn:
    def __init__(self, name: str, address: str = "127.0.0.1") -> None:
        self.name = name
        self.peer: Peer | None = None
        self.remote = (address, 40000)

    def __repr__(self) -> str:
        return f"Conn({self.name})"


class Recorder:
    """The adapter's side: everything the core asks for, in order."""

    def __init__(self) -> None:
        self.writes: list[tuple[Conn, bytes]] = []
        self.handled: list[tuple[Any, Message, Conn]] = []
        self.closed: list[Conn] = []
        self.answers: dict[int, Message] = {}
        self.failed: dict[int, str] = {}
        self.deadlines: list[float] = []
        self.serving: set[Conn] = set()  # connections with a handler yet to answer

    def write(self, conn: Conn, data: bytes | bytearray) -> None:
        self.writes.append((conn, bytes(data)))

    def disconnect(self, conn: Conn) -> None:
        self.closed.append(conn)

    def dial(self, peer: Peer) -> None:
        pass

    def handle(self, handler: Any, request: Message, peer: Peer, conn: Conn) -> None:
        self.handled.append((handler, request, conn))

    def peer_changed(self, peer: Peer, up: bool, reason: str) -> None:
        pass

    def answer_received(self, hop_by_hop: int, msg: Message) -> None:
        self.answers[hop_by_hop] = msg

    def request_failed(self, hop_by_hop: int, reason: str) -> None:
        self.failed[hop_by_hop] = reason

    def relay_deadline(self, when: float) -> None:
        self.deadlines.append(when)

    def handling(self, conn: Conn) -> bool:
        return conn in self.serving

    def sent(self, conn: Conn) -> list[Message]:
        """Messages written to ``conn`` since the last call."""
        out = [Message.decode(d) for c, d in self.writes if c is conn]
        self.writes = [(c, d) for c, d in self.writes if c is not conn]
        return out

    def raw(self, conn: Conn) -> list[bytes]:
        out = [d for c, d in self.writes if c is conn]
        self.writes = [(c, d) for c, d in self.writes if c is not conn]
        return out


def cer(origin: str, realm: str = "localdomain", apps: dict[int, int] | None = None) -> bytes:
    msg = make_cer(LocalCapabilities(Identity(origin, realm), auth_apps=apps or {4: 0}))
    msg.hop_by_hop = msg.end_to_end = 1
    return msg.encode()


def make_core(relay: bool = False, allow: list[str] | None = None) -> tuple[NodeCore, Recorder]:
    out = Recorder()
    core = NodeCore(Identity("dra.localdomain", "localdomain"), out, policy=PeerPolicy(jitter=0.0),
                    configured={"hss1.localdomain": False}, allow=allow, request_timeout=TIMEOUT, relay=relay)
    if not relay:  # a relay serves nothing itself unless a test registers it
        core.advertise(4)
    return core, out


def connect(core: NodeCore, out: Recorder, name: str, realm: str = "localdomain",
            apps: dict[int, int] | None = None, now: float = 0.0) -> Conn:
    conn = Conn(name)
    core.frame(conn, cer(name, realm, apps), now)
    cea = out.sent(conn)[0]
    assert cea["Result-Code"] == 2001, cea
    return conn


def request(hbh: int, *, dest_realm: str | None = "localdomain", dest_host: str | None = None,
            app: int = 4, code: int = 272, origin: str = "mme.localdomain", extra: list[Avp] | None = None,
            flags: int = 0xC0, e2e: int = 77) -> bytes:
    avps = [D.build("Session-Id", f"{origin};1;{hbh}"), D.build("Origin-Host", origin),
            D.build("Origin-Realm", "localdomain")]
    if dest_realm is not None:
        avps.append(D.build("Destination-Realm", dest_realm))
    if dest_host is not None:
        avps.append(D.build("Destination-Host", dest_host))
    if app == 4:
        avps += [D.build("Auth-Application-Id", 4), D.build("Service-Context-Id", "x@3gpp.org"),
                 D.build("CC-Request-Type", 1), D.build("CC-Request-Number", 0)]
    avps += extra or []
    return Message(code, app, flags, hbh, e2e, avps).encode()


def answer_to(frame: bytes, origin: str, result: int = 2001) -> bytes:
    req = Message.decode(frame)
    ans = answer(req, Identity(origin, "localdomain"), result)
    if 3000 <= result < 4000:
        ans.flags |= FLAG_ERROR
    return ans.encode()


# --- peers -----------------------------------------------------------------------------------------------

def test_the_first_message_must_be_a_cer() -> None:
    core, out = make_core()
    core.start(0.0)
    conn = Conn("x")
    core.frame(conn, request(1), 0.0)
    assert out.closed == [conn] and out.writes == [] and conn.peer is None


def test_unconfigured_peers_outside_the_allowed_networks_get_3010() -> None:
    core, out = make_core(allow=["10.0.0.0/8"])
    core.start(0.0)
    stranger = Conn("stranger")
    core.frame(stranger, cer("stranger.localdomain"), 0.0)
    cea = out.sent(stranger)[0]
    assert cea["Result-Code"] == ResultCode.UNKNOWN_PEER and cea.is_error and out.closed == [stranger]
    configured = Conn("hss1")
    core.frame(configured, cer("hss1.localdomain"), 0.0)
    assert out.sent(configured)[0]["Result-Code"] == 2001 and configured.peer is core.peers["hss1.localdomain"]


def test_a_retransmitted_request_gets_the_cached_answer_with_its_new_hop_by_hop() -> None:
    core, out = make_core()
    core.register(4, "Credit-Control", lambda req, ctx: None)
    core.start(0.0)
    mme = connect(core, out, "mme.localdomain")
    core.frame(mme, request(5), 1.0)
    (_, req, conn), = out.handled
    core.answer(conn, req, answer(req, core.identity, 2001))
    first = out.raw(mme)[0]
    core.frame(mme, request(6, flags=0xC0 | FLAG_RETRANSMIT), 2.0)
    again = out.raw(mme)[0]
    assert len(out.handled) == 1  # not run again
    assert peek_header(again).hop_by_hop == 6 and again[16:] == first[16:]


def test_answers_to_our_requests_are_matched_by_hop_by_hop_on_their_connection() -> None:
    core, out = make_core()
    core.advertise(4)
    core.start(0.0)
    hss = connect(core, out, "hss1.localdomain")
    msg = Message.decode(request(0, dest_host="hss1.localdomain"))
    target = core.request(msg)
    assert target is core.peers["hss1.localdomain"]
    sent = out.raw(hss)[0]
    other = connect(core, out, "other.localdomain")
    core.frame(other, answer_to(sent, "other.localdomain"), 1.0)  # same id, wrong connection: not ours
    assert out.answers == {}
    core.frame(hss, answer_to(sent, "hss1.localdomain"), 1.0)
    assert out.answers[msg.hop_by_hop]["Result-Code"] == 2001
    msg2 = Message.decode(request(0))
    core.request(msg2, "hss1.localdomain")
    core.connection_lost(hss, 2.0)
    assert msg2.hop_by_hop in out.failed


def test_no_open_peer_for_our_request_is_3002() -> None:
    core, _ = make_core()
    core.start(0.0)
    with pytest.raises(Exception) as info:
        core.request(Message.decode(request(0)))
    assert getattr(info.value, "result_code", None) == ResultCode.UNABLE_TO_DELIVER


# --- local delivery and relay ------------------------------------------------------------------------------

def relay_core() -> tuple[NodeCore, Recorder, Conn, Conn, Conn]:
    core, out = make_core(relay=True)
    core.start(0.0)
    mme = connect(core, out, "mme.localdomain", "visited.net", {RELAY: 0})
    hss1 = connect(core, out, "hss1.localdomain", "localdomain", {4: 0, VENDOR_APP: 0})
    hss2 = connect(core, out, "hss2.localdomain", "localdomain", {4: 0, VENDOR_APP: 0})
    return core, out, mme, hss1, hss2


def test_a_forwarded_request_gets_a_route_record_and_a_new_hop_by_hop_restored_on_the_answer() -> None:
    core, out, mme, hss1, hss2 = relay_core()
    frame = request(0x1111, dest_host="hss2.localdomain")
    core.frame(mme, frame, 1.0)
    assert out.raw(hss1) == []
    fwd = out.raw(hss2)[0]
    assert peek_header(fwd).hop_by_hop != 0x1111 and peek_header(fwd).end_to_end == 77
    assert fwd[20:len(frame)] == frame[20:]  # the request's own AVPs unchanged
    assert base_avps(fwd, frozenset({ROUTE_RECORD}))[ROUTE_RECORD] == [b"mme.localdomain"]
    ans = answer_to(fwd, "hss2.localdomain")
    core.frame(hss2, ans, 1.1)
    back = out.raw(mme)[0]
    assert peek_header(back).hop_by_hop == 0x1111 and back[16:] == ans[16:]
    assert core.relays_in_flight == 0


def test_realm_routing_and_unknown_applications_pass_byte_exact() -> None:
    core, out, mme, hss1, hss2 = relay_core()
    odd = Avp(77777, b"\x01\x02\x03", flags=0x80, vendor=99999)
    frame = request(9, app=VENDOR_APP, code=8_000_001, extra=[odd])
    core.frame(mme, frame, 1.0)
    fwd = (out.raw(hss1) + out.raw(hss2))[0]
    assert fwd[20:len(frame)] == frame[20:] and fwd[4:8] == frame[4:8]


def test_3003_when_nothing_routes_the_realm_3005_on_a_loop_3002_when_the_route_is_down() -> None:
    core, out, mme, _hss1, _hss2 = relay_core()
    core.frame(mme, request(1, dest_realm="nowhere.net"), 1.0)
    ans = out.sent(mme)[0]
    assert ans["Result-Code"] == ResultCode.REALM_NOT_SERVED and ans.is_error and ans.hop_by_hop == 1
    assert ans["Session-Id"] == "mme.localdomain;1;1"
    looped = request(2, dest_realm="other.net", extra=[D.build("Route-Record", "DRA.localdomain")])
    core.frame(mme, looped, 1.0)
    assert out.sent(mme)[0]["Result-Code"] == ResultCode.LOOP_DETECTED

    def route_other(transit: InTransit, scores: dict[Peer, int]) -> None:
        for peer in scores:
            if peer.name == "down.other.net":
                scores[peer] += 50

    core.hooks.add_out_routing(route_other)
    core.peer("down.other.net", initiate=False)  # known, never open
    core.frame(mme, request(3, dest_realm="other.net"), 1.0)
    assert out.sent(mme)[0]["Result-Code"] == ResultCode.UNABLE_TO_DELIVER


def test_requests_for_our_realm_and_applications_are_local_others_forwarded() -> None:
    core, out, mme, hss1, hss2 = relay_core()
    core.register(4, "Credit-Control", lambda req, ctx: None)
    core.frame(mme, request(1), 1.0)  # our realm, an application we serve: local
    core.frame(mme, request(2, dest_host="dra.localdomain"), 1.0)
    assert [r.hop_by_hop for _, r, _ in out.handled] == [1, 2]
    core.frame(mme, request(3, app=VENDOR_APP, code=9), 1.0)  # our realm, not our application: forwarded
    assert len(out.raw(hss1) + out.raw(hss2)) == 1


def test_out_routing_scores_order_candidates_and_failover_goes_down_the_list_with_the_t_flag() -> None:
    core, out, mme, hss1, hss2 = relay_core()

    def prefer_hss2(transit: InTransit, scores: dict[Peer, int]) -> None:
        for peer in scores:
            if peer.name == "hss2.localdomain":
                scores[peer] += 5

    core.hooks.add_out_routing(prefer_hss2)
    core.frame(mme, request(1), 1.0)
    first = out.raw(hss2)[0]
    assert out.raw(hss1) == [] and not first[4] & FLAG_RETRANSMIT
    core.frame(hss2, answer_to(first, "hss2.localdomain", ResultCode.TOO_BUSY), 1.1)  # 3004: next one
    second = out.raw(hss1)[0]
    assert second[4] & FLAG_RETRANSMIT and peek_header(second).hop_by_hop != peek_header(first).hop_by_hop
    assert out.raw(mme) == []
    core.frame(hss2, answer_to(first, "hss2.localdomain"), 1.2)  # a late answer to the old attempt: ignored
    assert out.raw(mme) == []
    core.frame(hss1, answer_to(second, "hss1.localdomain"), 1.3)
    (back,) = out.sent(mme)
    assert back["Result-Code"] == 2001 and back.hop_by_hop == 1


def test_the_last_candidates_3002_goes_back_as_it_is() -> None:
    core, out, mme, hss1, _hss2 = relay_core()
    core.frame(mme, request(1, dest_host="hss1.localdomain"), 1.0)  # direct: one candidate
    core.frame(hss1, answer_to(out.raw(hss1)[0], "hss1.localdomain", ResultCode.UNABLE_TO_DELIVER), 1.1)
    (back,) = out.sent(mme)
    assert back["Result-Code"] == 3002 and back["Origin-Host"] == "hss1.localdomain"


def test_a_timeout_fails_over_and_when_all_fail_the_request_is_answered_3002_once() -> None:
    core, out, mme, _hss1, _hss2 = relay_core()
    core.frame(mme, request(1), 1.0)
    assert out.deadlines == [1.0 + TIMEOUT]
    (first_conn, _first), = out.writes
    out.writes.clear()
    core.relay_timer(1.0 + TIMEOUT - 0.1)
    assert out.writes == []
    core.relay_timer(1.0 + TIMEOUT)
    (second_conn, second), = out.writes
    out.writes.clear()
    assert second_conn is not first_conn and second[4] & FLAG_RETRANSMIT
    assert out.deadlines[-1] == 1.0 + 2 * TIMEOUT
    core.relay_timer(1.0 + 2 * TIMEOUT)
    (back,) = out.sent(mme)
    assert back["Result-Code"] == ResultCode.UNABLE_TO_DELIVER and back.is_error and back.hop_by_hop == 1
    core.frame(second_conn, answer_to(second, "late"), 20.0)  # too late: nothing more to the MME
    core.relay_timer(30.0)
    assert out.raw(mme) == [] and core.relays_in_flight == 0


def test_a_lost_connection_fails_over_at_once() -> None:
    core, out, mme, _hss1, _hss2 = relay_core()
    core.frame(mme, request(1), 1.0)
    (first_conn, _), = out.writes
    out.writes.clear()
    core.connection_lost(first_conn, 1.5)
    (second_conn, second), = out.writes
    assert second_conn is not first_conn and second[4] & FLAG_RETRANSMIT


def test_hooks_decide_local_delivery_change_messages_and_answer_locally() -> None:
    core, out, mme, hss1, hss2 = relay_core()
    core.register(4, "Credit-Control", lambda req, ctx: None)
    seen: list[str] = []
    core.hooks.add_local_delivery(lambda t: False if t.routing.destination_realm == "localdomain" else None)

    def tag(transit: InTransit) -> None:
        seen.append("request" if transit.is_request else "answer")
        if not transit.is_request:
            msg = transit.message()
            msg.avps = [*msg.avps, D.build("Error-Message", "seen by the DRA")]
            transit.replace(msg)

    core.hooks.add_forward(tag)
    core.frame(mme, request(1), 1.0)  # would be local, the hook forwards it
    assert out.handled == []
    fwd = (out.raw(hss1) + out.raw(hss2))[0]
    core.frame(hss1 if core._relays[peek_header(fwd).hop_by_hop].target_conn is hss1 else hss2,
               answer_to(fwd, "hss.localdomain"), 1.1)
    (back,) = out.sent(mme)
    assert back["Error-Message"] == "seen by the DRA" and back.hop_by_hop == 1 and seen == ["request", "answer"]

    def redirect(transit: InTransit) -> None:
        raise Rejected(ResultCode.REDIRECT_INDICATION, avps=[D.build("Redirect-Host", "aaa://hss9.localdomain")])

    core.hooks.forward_request.insert(0, redirect)
    core.frame(mme, request(2), 1.2)
    (redirected,) = out.sent(mme)
    assert redirected["Result-Code"] == 3006 and redirected.is_error
    assert redirected["Redirect-Host"] == "aaa://hss9.localdomain" and redirected.hop_by_hop == 2


def test_an_out_routing_hook_can_refuse_a_peer_and_a_failing_hook_does_not_stop_forwarding() -> None:
    core, out, mme, hss1, hss2 = relay_core()

    def never_hss1(transit: InTransit, scores: dict[Peer, int]) -> None:
        for peer in scores:
            if peer.name == "hss1.localdomain":
                scores[peer] = SCORE_NO_DELIVERY

    def broken(transit: InTransit) -> None:
        raise RuntimeError("hook bug")

    core.hooks.add_out_routing(never_hss1)
    core.hooks.add_forward(broken)
    for n in range(5):
        core.frame(mme, request(n), 1.0)
    assert out.raw(hss1) == [] and len(out.raw(hss2)) == 5


def test_failing_local_delivery_next_hops_and_out_routing_hooks_route_as_without_them(
        caplog: pytest.LogCaptureFixture) -> None:
    """An outside application's routing hook with a bug used to raise out of `frame`: in the asyncio node
    that closed the sender's connection with everything on it unanswered. Now the request is routed as if
    the hook had had no say, and the bug is logged: its traceback once, not once per message."""
    core, out, mme, hss1, hss2 = relay_core()

    def broken(*_: Any) -> None:
        raise RuntimeError("hook bug")

    core.hooks.add_local_delivery(broken)
    core.hooks.add_next_hops(broken)
    core.hooks.add_out_routing(broken)
    for n in range(20):
        core.frame(mme, request(n, app=VENDOR_APP, code=9), 1.0)
    forwarded = out.raw(hss1) + out.raw(hss2)
    assert len(forwarded) == 20 and mme not in out.closed
    for fwd in forwarded:
        target = hss1 if core._relays[peek_header(fwd).hop_by_hop].target_conn is hss1 else hss2
        core.frame(target, answer_to(fwd, target.name), 1.1)
    assert sorted(m.hop_by_hop for m in out.sent(mme)) == list(range(20))
    tracebacks = [r for r in caplog.records if r.exc_info and "hook bug" in str(r.exc_info[1])]
    assert len(tracebacks) == 1  # the same hook's repeats are counted lines, not tracebacks


class BrokenAdapter(Recorder):
    def handle(self, handler: Any, request: Message, peer: Peer, conn: Conn) -> None:
        if request.hop_by_hop == 1:
            raise RuntimeError("adapter bug")
        super().handle(handler, request, peer, conn)


def test_a_bug_while_processing_a_request_answers_5012_and_keeps_the_connection() -> None:
    out = BrokenAdapter()
    core = NodeCore(Identity("hss.localdomain", "localdomain"), out, policy=PeerPolicy(jitter=0.0),
                    configured={}, request_timeout=TIMEOUT)
    core.register(4, 272, lambda req, ctx: None)
    core.start(0.0)
    mme = connect(core, out, "mme.localdomain")
    core.frame(mme, request(1), 1.0)
    (failed,) = out.sent(mme)
    assert failed.hop_by_hop == 1 and failed["Result-Code"] == ResultCode.UNABLE_TO_COMPLY
    assert mme not in out.closed
    core.frame(mme, request(2), 1.1)  # the connection goes on serving
    assert [r.hop_by_hop for _, r, _ in out.handled] == [2]


def serving_core() -> tuple[NodeCore, Recorder, Conn]:
    """A node serving CCR itself (its handler runs in the Recorder: `handled`), and an MME connected."""
    core, out = make_core()
    core.register(4, 272, lambda req, ctx: None)
    core.start(0.0)
    return core, out, connect(core, out, "mme.localdomain")


def test_a_non_forwarding_node_answers_3003_and_3002_itself() -> None:
    core, out, mme = serving_core()
    core.frame(mme, request(1, dest_realm="other.net"), 1.0)
    core.frame(mme, request(2, dest_host="else.localdomain"), 1.0)
    assert [m["Result-Code"] for m in out.sent(mme)] == [3003, 3002]


def test_observers_see_each_outcome_and_the_tag_reaches_the_answer() -> None:
    core, out, mme, hss1, hss2 = relay_core()
    events: list[tuple[str, str | None, int | None, Any]] = []
    answer_tags: list[Any] = []

    def route(transit: InTransit, scores: dict[Peer, int]) -> None:
        if transit.routing.destination_realm != "localdomain":
            return
        transit.tag = "route-A"
        for peer in scores:
            scores[peer] += 20 if peer.name == "hss1.localdomain" else 0

    core.hooks.add_out_routing(route)
    core.hooks.add_forward(lambda t: answer_tags.append(t.tag), requests=False)
    core.hooks.add_observer(lambda event, t, peer, rc, secs: events.append(
        (event, peer.name if peer else None, rc, t.tag)))
    core.frame(mme, request(1), 1.0)
    core.frame(hss1, answer_to(out.raw(hss1)[0], "hss1.localdomain", ResultCode.UNABLE_TO_DELIVER), 1.2)
    core.frame(hss2, answer_to(out.raw(hss2)[0], "hss2.localdomain"), 1.5)
    core.frame(mme, request(2, dest_realm="nowhere.net"), 2.0)
    core.frame(mme, request(3, dest_realm="x.net", extra=[D.build("Route-Record", "dra.localdomain")]), 2.0)
    core.frame(mme, request(4), 3.0)
    core.relay_timer(3.0 + TIMEOUT)
    core.relay_timer(3.0 + 2 * TIMEOUT)
    assert events == [
        ("sent", "hss1.localdomain", None, "route-A"),
        ("failover", "hss1.localdomain", 3002, "route-A"),
        ("sent", "hss2.localdomain", None, "route-A"),
        ("answered", "hss2.localdomain", 2001, "route-A"),
        ("realm_not_served", None, 3003, None),
        ("looped", None, 3005, None),
        ("sent", "hss1.localdomain", None, "route-A"),
        ("timeout", "hss1.localdomain", None, "route-A"),
        ("sent", "hss2.localdomain", None, "route-A"),
        ("timeout", "hss2.localdomain", None, "route-A"),
        ("unable_to_deliver", None, 3002, "route-A"),
    ]
    assert answer_tags == ["route-A"]


def test_changes_made_by_out_routing_hooks_are_sent() -> None:
    core, out, mme, hss1, hss2 = relay_core()

    def rewrite(transit: InTransit, scores: dict[Peer, int]) -> None:
        msg = transit.message()
        msg.avps = [a for a in msg.avps if a.code != 283] + [D.build("Destination-Realm", "rewritten.net")]
        transit.replace(msg)

    core.hooks.add_out_routing(rewrite)
    core.frame(mme, request(1), 1.0)
    (fwd,) = out.sent(hss1) + out.sent(hss2)
    assert fwd["Destination-Realm"] == "rewritten.net"


def test_forward_hooks_routing_facts_are_read_again_only_when_the_bytes_changed() -> None:
    """A forward hook that rewrites Destination-Host in place is routed by the new value; one that keeps the
    bytes, or hands over the facts of what it left (``transit.routing`` set anew), is not read again."""
    core, out, mme, hss1, hss2 = relay_core()
    seen: list[object] = []

    def to_hss2(transit: InTransit) -> None:  # same length: "hss1" -> "hss2", in place
        at = bytes(transit.buf).index(b"hss1.localdomain")
        transit.buf[at + 3] = ord("2")

    core.hooks.add_forward(to_hss2, answers=False)
    core.frame(mme, request(1, dest_host="hss1.localdomain"), 1.0)
    assert out.raw(hss1) == [] and len(out.raw(hss2)) == 1
    core.hooks.forward_request[:] = [lambda t: seen.append(t.routing)]
    core.frame(mme, request(2, dest_host="hss1.localdomain"), 1.0)
    assert len(out.raw(hss1)) == 1 and seen[0].destination_host == "hss1.localdomain"  # type: ignore[attr-defined]

    def facts_given(transit: InTransit) -> None:
        transit.buf += D.build("Proxy-Info", {"Proxy-Host": "x.localdomain", "Proxy-State": b"s"}).to_bytes()
        transit.resized()
        routing = transit.routing.copy()
        routing.destination_host = "hss2.localdomain"  # trusted: not read again from the bytes
        transit.routing = routing

    core.hooks.forward_request[:] = [facts_given]
    core.frame(mme, request(3, dest_host="hss1.localdomain"), 1.0)
    assert out.raw(hss1) == [] and out.sent(hss2)[0]["Destination-Host"] == "hss1.localdomain"


def test_an_e_bit_request_and_a_wrong_version_are_refused_not_forwarded() -> None:
    core, out, mme, hss1, hss2 = relay_core()
    core.frame(mme, request(1, flags=0xE0), 1.0)
    wrong = bytearray(request(2))
    wrong[0] = 2
    core.frame(mme, bytes(wrong), 1.0)
    assert [m["Result-Code"] for m in out.sent(mme)] == [3008, 5011]
    assert out.raw(hss1) + out.raw(hss2) == []


def test_a_route_to_a_peer_without_the_application_is_3002() -> None:
    core, out, mme, hss1, _hss2 = relay_core()
    lcs = connect(core, out, "gmlc.localdomain", "localdomain", {16777291: 10415})

    def to_gmlc(transit: InTransit, scores: dict[Peer, int]) -> None:
        for peer in scores:
            scores[peer] = 50 if peer.name == "gmlc.localdomain" else SCORE_NO_DELIVERY

    core.hooks.add_out_routing(to_gmlc)
    core.frame(mme, request(1), 1.0)  # application 4: gmlc did not advertise it
    assert out.sent(mme)[0]["Result-Code"] == ResultCode.UNABLE_TO_DELIVER
    assert out.raw(lcs) == [] and out.raw(hss1) == []


@pytest.mark.parametrize("extra", [
    [], [D.build("Route-Record", "x.localdomain"), D.build("Route-Record", "DRA.localdomain")],
    [Avp(283, b"vendor.realm", flags=0x80, vendor=10415), Avp(293, b"vendor.host", flags=0x80, vendor=10415)],
])
def test_routing_reads_what_a_plain_walk_over_the_avps_reads(extra: list[Avp]) -> None:
    """`Routing` unpacks the AVP headers inline for speed: it must read what `walk` (the plain reader) does."""
    from sigcore.diameter.relay import DESTINATION_HOST, DESTINATION_REALM, Routing, walk

    frame = request(1, dest_host="HSS1.localdomain", extra=extra)
    routing = Routing(frame, b"dra.localdomain")
    base = {code: bytes(frame[s:e]) for code, vendor, s, e, _ in walk(frame) if vendor == 0}
    assert routing.destination_host == base[DESTINATION_HOST].decode().lower()
    assert routing.destination_realm == base[DESTINATION_REALM].decode().lower()
    records = [bytes(frame[s:e]).lower() for c, v, s, e, _ in walk(frame) if c == ROUTE_RECORD and v == 0]
    assert routing.looped == (b"dra.localdomain" in records)
    with pytest.raises(ValueError):
        Routing(frame[:-3], b"dra.localdomain")


@pytest.mark.parametrize("avps", [
    [D.build("Session-Id", "s;1"), D.build("Result-Code", 3004)],
    [Avp(268, b"\0\0\x0b\xb9", flags=0x80, vendor=10415), D.build("Result-Code", 2001)],  # a vendor 268 first
    [D.build("Session-Id", "s;1"), D.build("Experimental-Result", [("Vendor-Id", 10415),
                                                                   ("Experimental-Result-Code", 5001)])],
    [Avp(268, b"\0\0\x07\xd1\0")],  # not four octets: not a Result-Code
])
def test_result_code_reads_what_a_plain_walk_over_the_avps_reads(avps: list[Avp]) -> None:
    """`result_code` unpacks the AVP headers inline for speed (every relayed answer): same as `walk`."""
    from sigcore.diameter.relay import RESULT_CODE, result_code, walk

    frame = Message(272, 4, 0, 1, 1, avps).encode()
    plain = next((int.from_bytes(frame[s:e], "big") for c, v, s, e, _ in walk(frame)
                  if c == RESULT_CODE and v == 0 and e - s == 4), None)
    assert result_code(frame) == plain
    with pytest.raises(ValueError):
        result_code(frame[:-4] if plain is None else frame[:20] + frame[21:])


def test_a_next_hops_hook_names_the_candidates_in_order_and_none_leaves_it_to_the_realm_rule() -> None:
    """A route table names its next hops (`RoutingHooks.add_next_hops`) instead of scoring every known peer:
    the order it gives is the failover order; None is no opinion; names it gives that are not peers are
    3003, peers it names that are down are 3002."""
    core, out, mme, hss1, hss2 = relay_core()
    answers: dict[str, list[str] | None] = {"other.net": None, "localdomain": ["hss2.localdomain", "hss1.localdomain"],
                                            "ghost.net": ["nobody.localdomain"], "down.net": ["down.localdomain"]}
    core.hooks.add_next_hops(lambda t: answers.get(t.routing.destination_realm or ""))
    core.peer("down.localdomain", initiate=False)  # known, never open
    core.frame(mme, request(1), 1.0)
    first = out.raw(hss2)[0]
    assert out.raw(hss1) == []
    core.frame(hss2, answer_to(first, "hss2.localdomain", ResultCode.TOO_BUSY), 1.1)  # down the named list
    second = out.raw(hss1)[0]
    core.frame(hss1, answer_to(second, "hss1.localdomain"), 1.2)
    assert [m["Result-Code"] for m in out.sent(mme)] == [2001]
    core.frame(mme, request(2, dest_realm="other.net"), 1.3)  # no opinion: no peer serves other.net
    core.frame(mme, request(3, dest_realm="ghost.net"), 1.3)
    core.frame(mme, request(4, dest_realm="down.net"), 1.3)
    assert [m["Result-Code"] for m in out.sent(mme)] == [3003, 3003, 3002]


def test_out_routing_hooks_see_the_named_next_hops_above_the_realm_rule_and_may_change_them() -> None:
    core, out, mme, hss1, hss2 = relay_core()
    seen: list[dict[str, int]] = []
    core.hooks.add_next_hops(lambda t: ["hss1.localdomain"])

    def look(transit: InTransit, scores: dict[Peer, int]) -> None:
        seen.append({p.name: s for p, s in scores.items()})
        if transit.header.hop_by_hop == 2:
            for peer in scores:
                scores[peer] = 5000 if peer.name == "hss2.localdomain" else SCORE_NO_DELIVERY

    core.hooks.add_out_routing(look)
    core.frame(mme, request(1), 1.0)
    core.frame(mme, request(2), 1.0)
    assert len(out.raw(hss1)) == 1 and len(out.raw(hss2)) == 1
    assert seen[0]["hss1.localdomain"] > 1000 and seen[0]["hss2.localdomain"] <= 0  # the realm rule stood down


# --- a graceful stop (RFC 6733 §5.4): nothing in flight is lost -------------------------------------------

def dpa_for(dpr: Message, origin: str) -> bytes:
    return answer(dpr, Identity(origin, "localdomain"), ResultCode.SUCCESS).encode()


def only_dpr(msgs: list[Message]) -> Message:
    (dpr,) = [m for m in msgs if m.code == 282 and m.is_request]
    return dpr


def test_a_stopping_relay_finishes_what_it_relays_then_dprs_its_clients_then_its_upstream() -> None:
    core, out, mme, hss1, hss2 = relay_core()
    core.frame(mme, request(1, dest_host="hss1.localdomain"), 1.0)
    (fwd1,) = out.raw(hss1)
    core.stop(1.1, grace=TIMEOUT)
    assert core.drain(1.1) is False and out.writes == []  # what was taken first: no DPR yet
    core.frame(mme, request(2, dest_host="hss1.localdomain"), 1.15)  # still served meanwhile
    (fwd2,) = out.raw(hss1)
    core.frame(hss1, answer_to(fwd1, "hss1.localdomain"), 1.2)
    assert [m.hop_by_hop for m in out.sent(mme)] == [1]
    assert core.drain(1.2) is False
    mme_dpr = only_dpr(out.sent(mme))  # now the clients (hss2 too: never sent anything) are told to go
    hss2_dpr = only_dpr(out.sent(hss2))
    assert out.raw(hss1) == []  # hss1 took the MME's requests: held while the MME is there
    core.frame(mme, dpa_for(mme_dpr, "mme.localdomain"), 1.3)
    core.frame(hss2, dpa_for(hss2_dpr, "hss2.localdomain"), 1.3)
    assert core.drain(1.3) is False and out.closed == [hss2]  # the MME's stays for the answer to request 2
    core.frame(hss1, answer_to(fwd2, "hss1.localdomain"), 1.4)
    assert [m.hop_by_hop for m in out.sent(mme)] == [2]
    core.peer_timer(core.peers["mme.localdomain"], 1.4)  # its next look: nothing in flight any more
    assert out.closed == [hss2, mme]
    assert core.drain(1.4) is False
    hss1_dpr = only_dpr(out.sent(hss1))
    core.frame(hss1, dpa_for(hss1_dpr, "hss1.localdomain"), 1.5)
    assert core.drain(1.5) is True and out.closed == [hss2, mme, hss1]


def test_a_stopping_relay_keeps_its_upstream_for_what_a_client_sends_until_its_dpa() -> None:
    """Nothing in flight at the stop, but the MME's next requests cross our DPR: they still find hss1."""
    core, out, mme, hss1, hss2 = relay_core()
    core.frame(mme, request(1, dest_host="hss1.localdomain"), 1.0)
    core.frame(hss1, answer_to(out.raw(hss1)[0], "hss1.localdomain"), 1.05)
    out.sent(mme)
    core.stop(1.1, grace=TIMEOUT)
    assert core.drain(1.1) is False  # nothing in flight: the clients are told at once
    mme_dpr = only_dpr(out.sent(mme))
    core.frame(hss2, dpa_for(only_dpr(out.sent(hss2)), "hss2.localdomain"), 1.1)  # never used: a client
    assert out.raw(hss1) == []  # hss1 took the MME's requests: held while the MME may send more
    core.frame(mme, request(2, dest_host="hss1.localdomain"), 1.2)  # sent before it read our DPR
    core.frame(hss1, answer_to(out.raw(hss1)[0], "hss1.localdomain"), 1.25)
    assert [m["Result-Code"] for m in out.sent(mme)] == [2001]
    assert core.drain(1.25) is False and out.raw(hss1) == []
    core.frame(mme, dpa_for(mme_dpr, "mme.localdomain"), 1.3)
    assert core.drain(1.3) is False
    only_dpr(out.sent(hss1))


def test_a_stopping_node_answers_what_its_handlers_took_then_keeps_the_connection_for_the_rest() -> None:
    core, out, mme = serving_core()
    core.frame(mme, request(5, dest_host="dra.localdomain"), 1.0)
    ((_handler, req5, _conn),) = out.handled
    out.serving.add(mme)
    core.stop(1.1, grace=TIMEOUT)
    assert core.drain(1.1, taken_handled=False) is False and out.writes == []
    core.answer(mme, req5, answer(req5, core.identity, ResultCode.SUCCESS))
    out.serving.discard(mme)
    assert [m.hop_by_hop for m in out.sent(mme)] == [5]
    assert core.drain(1.2, taken_handled=True) is False
    dpr = only_dpr(out.sent(mme))
    core.frame(mme, request(6, dest_host="dra.localdomain"), 1.25)  # sent before the MME read our DPR
    req6 = out.handled[-1][1]
    out.serving.add(mme)
    core.frame(mme, dpa_for(dpr, "mme.localdomain"), 1.3)
    core.peer_timer(core.peers["mme.localdomain"], 1.35)
    assert out.closed == []  # kept for the answer to request 6
    core.answer(mme, req6, answer(req6, core.identity, ResultCode.SUCCESS))
    out.serving.discard(mme)
    assert [m.hop_by_hop for m in out.sent(mme)] == [6]
    core.peer_timer(core.peers["mme.localdomain"], 1.5)
    assert core.drain(1.5) is True and out.closed == [mme]


def test_a_graceful_stop_gives_up_waiting_at_its_deadline() -> None:
    core, out, mme, hss1, hss2 = relay_core()
    core.frame(mme, request(1, dest_host="hss1.localdomain"), 1.0)
    out.raw(hss1)  # never answered
    core.stop(1.1, grace=2.0)
    assert core.drain(2.0) is False and out.writes == []
    core.drain(3.1)  # past the grace: every peer gets its DPR
    for conn in (mme, hss1, hss2):
        only_dpr(out.sent(conn))
    for peer in list(core.peers.values()):  # no DPA: closed anyway after the DPA timeout
        core.peer_timer(peer, 3.1 + core.policy.dpa_timeout)
    assert core.drain(3.2 + core.policy.dpa_timeout) is True and set(out.closed) == {mme, hss1, hss2}
