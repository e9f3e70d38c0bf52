"""The in-process layer: result extraction, counting through the node hooks, Prometheus text, OID rows."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from sigcore.diameter.answers import Identity, answer
from sigcore.diameter.message import Message
from sigcore.diameter.peer import State
from sigcore.metrics.diameter import NodeMetrics, result_of_answer
from sigcore.metrics.families import DIA_ANSWERS, PEER_STATE, PEER_STATE_CODES
from sigcore.metrics.prometheus import render
from sigcore.metrics.registry import Registry, decode_key, encode_key
from sigcore.metrics.snapshot import Snapshot, local_snapshot, merge_gauge
from sigcore.metrics.snmp.oids import cmd_answers_oid, peer_index, rows

from .helpers import ccr

IDENTITY = Identity("hss.localdomain", "localdomain")


def _request(number: int) -> Message:
    req = Message.decode(ccr(number).encode())  # as the node sees it: decoded from a frame
    return req


def test_result_code_and_experimental_result_are_told_apart() -> None:
    req = _request(1)
    assert result_of_answer(answer(req, IDENTITY, 2001)) == (0, 2001)
    assert result_of_answer(answer(req, IDENTITY, None, experimental=(10415, 5001))) == (10415, 5001)
    assert result_of_answer(answer(req, IDENTITY)) == (0, 0)


def test_answers_counted_per_result_with_latency_from_the_frame_tap() -> None:
    ticks = iter([10.0, 10.004, 20.0, 20.030])
    registry = Registry()
    metrics = NodeMetrics(registry, clock=lambda: next(ticks))
    for number, experimental in ((1, None), (2, (10415, 5420))):
        req = _request(number)
        metrics.frame_tap("in", object(), req.raw or b"")
        ans = answer(req, IDENTITY, None if experimental else 2001, experimental=experimental)
        metrics.frame_tap("out", object(), ans.encode())  # outbound frames are ignored
        metrics.answer_sent(req, ans)
    assert registry.counters[(DIA_ANSWERS, 4, 272, 0, 2001)] == 1
    assert registry.counters[(DIA_ANSWERS, 4, 272, 10415, 5420)] == 1
    assert registry.counters[("dia_latency_sum_us", 4, 272)] == 4000 + 30000
    assert not metrics._arrivals  # every arrival was matched to its answer


def test_series_keys_round_trip_through_their_redis_field() -> None:
    key = (DIA_ANSWERS, 16777251, 318, 10415, 5001)
    assert decode_key(encode_key(key).encode()) == key
    assert decode_key(encode_key((PEER_STATE, "mme-1.epc"))) == (PEER_STATE, "mme-1.epc")


def test_prometheus_text_parses_and_carries_the_counts() -> None:
    registry = Registry()
    registry.inc((DIA_ANSWERS, 16777251, 318, 0, 2001), 41)
    registry.inc((DIA_ANSWERS, 16777251, 318, 10415, 5001), 1)
    registry.observe("dia_latency", (16777251, 318), 0.003)
    registry.observe("dia_latency", (16777251, 318), 0.2)
    registry.set((PEER_STATE, "mme.localdomain"), PEER_STATE_CODES[State.R_OPEN])
    families = {f.name: f for f in text_string_to_metric_families(render(local_snapshot(registry)))}
    answers = {(s.labels["result_vendor"], s.labels["result_code"]): s.value
               for s in families["sigcore_diameter_answers"].samples}
    assert answers == {("0", "2001"): 41, ("10415", "5001"): 1}
    assert {s.labels["command"] for s in families["sigcore_diameter_answers"].samples} == {"AIR"}
    samples = families["sigcore_diameter_request_duration_seconds"].samples
    hist = {(s.name, s.labels.get("le")): s.value for s in samples}
    assert hist[("sigcore_diameter_request_duration_seconds_bucket", "0.005")] == 1
    assert hist[("sigcore_diameter_request_duration_seconds_bucket", "+Inf")] == 2
    assert hist[("sigcore_diameter_request_duration_seconds_count", None)] == 2
    assert families["sigcore_peer_state"].samples[0].value == 6


def test_peer_state_merge_prefers_the_open_process() -> None:
    key = (PEER_STATE, "mme")
    closed, opened, connecting = 1, PEER_STATE_CODES[State.I_OPEN], PEER_STATE_CODES[State.WAIT_CONN_ACK]
    assert merge_gauge(key, closed, opened) == opened
    assert merge_gauge(key, opened, connecting) == opened
    assert merge_gauge(key, closed, connecting) == connecting


def test_oid_rows_sum_results_per_command_and_index_peers_by_name() -> None:
    snap = Snapshot({(DIA_ANSWERS, 16777251, 318, 0, 2001): 5, (DIA_ANSWERS, 16777251, 318, 10415, 5001): 2},
                    {(PEER_STATE, "ab"): 6}, "redis")
    by_oid = {oid: (kind, value) for oid, kind, value in rows(snap)}
    assert by_oid[cmd_answers_oid(16777251, 318)] == ("counter64", 7)
    assert peer_index("ab") == (2, 97, 98)
    assert [oid for oid, _, _ in rows(snap)] == sorted(by_oid)


def test_the_redis_client_is_made_without_a_warning_on_the_console() -> None:
    """`sigcore snmp-agent` and `sigcore run` with metrics.redis printed redis-py's UserWarning about a
    synchronous Retry given to the asyncio client at every start."""
    import warnings

    from sigcore.metrics.redis_store import connect

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client = connect("redis://127.0.0.1:1/0")
    assert client.get_connection_kwargs()["socket_timeout"] == 0.5
