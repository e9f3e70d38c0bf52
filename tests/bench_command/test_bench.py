"""`sigcore bench` against the null responder, and the generator's parts."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from interop.ports import free_tcp_port
from sigcore.diameter.dictionary import DICTIONARY
from sigcore.diameter.message import Message
from sigcore.loadgen.driver import ConnectionResult, drive, result_code
from sigcore.loadgen.requests import KINDS, Target, cer, interleave, parse_mix
from sigcore.loadgen.responder import Responder
from sigcore.loadgen.run import LoadSpec, _templates, describe_failure, user_ranges
from support.responder import null_responder


@pytest.fixture
def responder() -> Iterator[int]:
    with null_responder() as port:
        yield port


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sigcore.cli", "bench", *args], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.slow
def test_bench_reports_rate_latency_and_result_codes_as_json(responder: int) -> None:
    done = bench("-t", f"127.0.0.1:{responder}", "--mix", "air=3,ulr=1", "-n", "2", "-w", "4", "-r", "400",
                 "-d", "1.5", "--json", "-")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["results"] == {"2001": report["answered"]} and report["unanswered"] == 0
    assert 500 <= report["answered"] <= 640  # paced: 400/s for 1.5 s
    assert report["kinds"]["air"]["answered"] == pytest.approx(3 * report["kinds"]["ulr"]["answered"], rel=0.05)
    assert 0 < report["p50_ms"] <= report["p99_ms"] <= report["max_ms"]
    assert "answered" in done.stderr  # progress lines


@pytest.mark.slow
def test_bench_text_report(responder: int) -> None:
    done = bench("-t", f"127.0.0.1:{responder}", "--mix", "mar,sar", "-n", "1", "-d", "0.5", "-q")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["kind", "answered", "rate/s"] and {ln.split()[0] for ln in lines[1:4]} == {
        "mar", "sar", "all"}
    assert "Result-Codes 2001:" in lines[-1] and done.stderr == ""


@pytest.mark.parametrize(("args", "message"), [
    (["--mix", "air,xyz"], "unknown request kind 'xyz'"),
    (["-t", "nohost"], "expected HOST:PORT"),
    (["--imsi-first", "123"], "15 digits"),
    # each of these was found only by the run: an "internal error in the load generator" (port 99999), a
    # "connection refused" (port 0), IMSIs of 16 digits sent, users named in the report but never asked for,
    # an empty realm in every request, the JSON report lost (or a traceback) after the whole run
    (["-t", "127.0.0.1:99999"], "with a port from 1 to"),
    (["-t", "127.0.0.1:0"], "with a port from 1 to"),
    (["--imsi-first", "999999999999999", "--users", "10"], "10 IMSIs from 999999999999999 go past"),
    (["--users", "16385"], "at most 4096 per connection"),
    (["--origin-realm", ""], "expected a DiameterIdentity"),
    (["--destination-host", "hss one"], "expected a DiameterIdentity"),
    (["--json", ""], "an empty path"),
    (["--json", "/"], "a directory"),
])
def test_bench_rejects_bad_options_with_a_message(args: list[str], message: str) -> None:
    done = bench("-d", "0.5", *args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_bench_without_a_node_fails_with_a_message() -> None:
    port = free_tcp_port()
    done = bench("-t", f"127.0.0.1:{port}", "-d", "0.5", "-q")
    expected = f"bench failed: cannot connect to 127.0.0.1:{port}: connection refused (is the node listening there?)\n"
    assert done.returncode == 1 and done.stderr == expected, done.stderr  # once, not once per process


def test_load_failures_are_told_without_exception_names() -> None:
    spec = LoadSpec(port=3868)
    assert describe_failure(TimeoutError(), spec) == "127.0.0.1:3868 did not answer the CER"
    assert describe_failure(asyncio.IncompleteReadError(b"", 20), spec) == "127.0.0.1:3868 closed the connection"
    assert describe_failure(ConnectionError("CER answered with Result-Code 3010"), spec) == \
        "127.0.0.1:3868: CER answered with Result-Code 3010"
    assert describe_failure(OSError(113, "No route to host"), spec) == "127.0.0.1:3868: No route to host"


def test_mix_and_interleave() -> None:
    assert parse_mix("AIR=3, ulr") == [("air", 3), ("ulr", 1)]
    order = interleave([("air", 3), ("ulr", 1)], 8)
    assert Counter(order) == {"air": 6, "ulr": 2} and order[:4].count("ulr") == 1
    with pytest.raises(ValueError, match="at least 1"):
        parse_mix("air=0")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_requests_are_valid_for_the_dictionary(kind: str) -> None:
    frame = KINDS[kind][1](Target(destination_host="hss1.localdomain"), "mme.localdomain", 7)
    msg = DICTIONARY.decode_checked(frame)
    assert DICTIONARY.validate(msg) is not None and msg["Destination-Host"] == "hss1.localdomain"


def test_result_code_finds_plain_and_experimental() -> None:
    plain = DICTIONARY.encode_items([("Session-Id", "x"), ("Result-Code", 3002)])
    exp = DICTIONARY.encode_items([("Experimental-Result", [("Vendor-Id", 10415),
                                                            ("Experimental-Result-Code", 5001)])])
    assert result_code(plain) == 3002 and result_code(exp) == 5001 and result_code(b"") == 0


@pytest.mark.parametrize(("users", "connections"), [(1000, 4), (10, 4), (2, 4), (1, 3), (7, 3)])
def test_every_user_asked_for_is_used_and_no_other(users: int, connections: int) -> None:
    spec = LoadSpec(port=0, users=users, connections=connections, mix=[("air", 1)])
    imsis = set()
    for c in range(connections):
        for _kind, frame in _templates(spec, f"c{c}.localdomain", *user_ranges(users, connections)[c]):
            imsis.add(Message.decode(bytes(frame))["User-Name"])
    assert imsis == {spec.target.imsi(n) for n in range(users)}


class _Failing(Responder):
    """The null responder that, after `reads` reads (each answered), closes the connection (``dies``) or
    stops answering and reading (``freezes``): the faults a node under load shows when killed or stopped."""

    def __init__(self, reads: int, fault: str) -> None:
        super().__init__("hss.localdomain", "localdomain")
        self.left, self.fault = reads, fault

    def data_received(self, data: bytes) -> None:
        if self.left <= 0:
            return
        self.left -= 1
        super().data_received(data)
        if self.left <= 0 and self.transport is not None:
            if self.fault == "dies":
                self.transport.abort()
            else:
                self.transport.pause_reading()


async def _failing_server(fault: str) -> tuple[asyncio.AbstractServer, int]:
    server = await asyncio.get_running_loop().create_server(lambda: _Failing(20, fault), "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.mark.parametrize("fault", ["dies", "freezes"])
async def test_the_driver_ends_when_the_node_dies_or_freezes(fault: str) -> None:
    """Before, a full window that no answer would free blocked the sender for ever (the run never ended)."""
    server, port = await _failing_server(fault)
    try:
        spec = LoadSpec(port=port, connections=1, window=8)
        templates = _templates(spec, "bench0.localdomain", 0, 10)
        started = time.monotonic()
        result = await asyncio.wait_for(drive(port, cer(spec.target, "bench0.localdomain", {16777251}), templates,
                                              8, 1.0, answer_timeout=0.5), 20)
        elapsed = time.monotonic() - started
    finally:
        server.close()
    answered = sum(result.results.values())
    assert answered > 0 and result.unanswered > 0 and result.sent == answered + result.unanswered
    assert result.lost is (fault == "dies")
    assert elapsed < (1.0 if fault == "dies" else 1.0 + 0.5 + 1.0 + 1.0)  # + the DPR's wait


#: the DPR (REBOOTING) a node that is stopping sends
_NODE_DPR = DICTIONARY.message(282, 0, 0x80, [("Origin-Host", "hss.localdomain"), ("Origin-Realm", "localdomain"),
                                              ("Disconnect-Cause", 0)], hop_by_hop=77, end_to_end=77).encode()


async def _drive_one_connection(node: asyncio.Protocol) -> tuple[ConnectionResult, float]:
    """One connection of the driver (window 8, 5 s) against ``node``: its result and how long it took."""
    server = await asyncio.get_running_loop().create_server(lambda: node, "127.0.0.1", 0)
    try:
        spec = LoadSpec(port=server.sockets[0].getsockname()[1], connections=1, window=8)
        started = time.monotonic()
        result = await asyncio.wait_for(drive(spec.port, cer(spec.target, "bench0.localdomain", {16777251}),
                                              _templates(spec, "bench0.localdomain", 0, 10), 8, 5.0,
                                              answer_timeout=0.5), 20)
        return result, time.monotonic() - started
    finally:
        server.close()


class _Leaving(Responder):
    """The null responder that, after `reads` reads, sends DPR (REBOOTING) as a node that is stopping does,
    answers nothing more, and closes on the DPA."""

    def __init__(self, reads: int) -> None:
        super().__init__("hss.localdomain", "localdomain")
        self.left = reads
        self.dpa = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        if self.left > 0:
            self.left -= 1
            super().data_received(data)
            if self.left == 0 and self.transport is not None:
                self.transport.write(_NODE_DPR)
            return
        if b"\x00\x00\x01\x1a" in data and self.transport is not None:  # the DPA (282) to our DPR
            self.dpa.set()
            self.transport.close()


async def test_the_driver_answers_a_nodes_dpr_and_stops_sending() -> None:
    """A node that is stopping sends DPR: the bench ignored it and kept sending (to a DRA: thousands of
    3002s until the DPR timed out). Now it answers DPA and ends the connection's run there."""
    leaving = _Leaving(20)
    result, elapsed = await _drive_one_connection(leaving)
    assert leaving.dpa.is_set()
    assert result.lost and sum(result.results.values()) > 0
    assert elapsed < 2.0  # not the run's 5 s


class _GracefulLeaving(Responder):
    """After `reads` reads it sends DPR ahead of that read's answers, as a stopping sigcore node does, and
    answers every request it reads until the DPA, then closes."""

    def __init__(self, reads: int) -> None:
        super().__init__("hss.localdomain", "localdomain")
        self.reads = reads
        self.seen = bytearray()
        self.dpa = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        self.reads -= 1
        if self.reads == 0 and self.transport is not None:
            self.transport.write(_NODE_DPR)
        super().data_received(data)
        seen = self.seen
        seen += data
        while len(seen) >= 20 and len(seen) >= (length := int.from_bytes(seen[1:4], "big")):
            if not seen[4] & 0x80 and seen[5:8] == b"\x00\x01\x1a" and self.transport is not None:  # the DPA
                self.dpa.set()
                self.transport.close()
            del seen[:length]


async def test_after_a_nodes_dpr_the_driver_still_counts_the_answers_in_flight() -> None:
    """A node that stops gracefully sends DPR and then the answers to what it had read: the driver counted
    them as unanswered (it stopped reading at the DPR). Now it sends no more and reads them."""
    leaving = _GracefulLeaving(20)
    result, elapsed = await _drive_one_connection(leaving)
    assert leaving.dpa.is_set() and result.left
    assert result.unanswered == 0 and result.results == {2001: result.sent} and result.sent >= 19
    assert elapsed < 2.0  # not the run's 5 s


@pytest.mark.parametrize("fault", ["dies", "stops"])
def test_bench_fails_in_words_when_the_node_closes_its_connections(fault: str) -> None:
    loop = asyncio.new_event_loop()
    if fault == "dies":
        server, port = loop.run_until_complete(_failing_server("dies"))
    else:  # DPR
        server = loop.run_until_complete(loop.create_server(lambda: _Leaving(20), "127.0.0.1", 0))
        port = server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        done = bench("-t", f"127.0.0.1:{port}", "-n", "2", "-p", "1", "-d", "2", "-q")
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    assert done.returncode == 1, done.stderr
    why = " (2 with DPR: the node is stopping)" if fault == "stops" else ""
    assert done.stderr.endswith(f"bench failed: 127.0.0.1:{port} closed 2 of 2 connections before the end of the "
                                f"run{why}\n"), done.stderr
    # whether requests were in flight when the node left is timing (a DPR may follow the last answers, and
    # the bench reads the answers still due): the report and the explanation must agree, whichever it was
    unanswered = int(re.search(r"unanswered (\d+)", done.stdout)[1])  # type: ignore[index]
    assert ("requests got no answer" in done.stderr) == (unanswered > 0), (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_bench_fails_when_the_node_leaves_requests_unanswered() -> None:
    """A node that stops answering without closing (frozen): the report said so but the exit status was 0,
    so a script took the run's figures for a rate."""
    loop = asyncio.new_event_loop()
    server, port = loop.run_until_complete(_failing_server("freezes"))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        done = bench("-t", f"127.0.0.1:{port}", "-n", "1", "-p", "1", "-w", "4", "-d", "0.5", "-q", "--json", "-")
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    report = json.loads(done.stdout)
    assert report["unanswered"] > 0 and report["sent"] == report["answered"] + report["unanswered"]
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.endswith(f"bench failed: 127.0.0.1:{port} left {report['unanswered']} of {report['sent']} "
                                f"requests unanswered\n"), done.stderr


def test_a_client_process_that_fails_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in a client process (a fault no real node causes, hence the patched `drive`) ended its process
    without a result: the parent waited until its deadline (duration + 90 s) and reported an empty run."""
    from sigcore.loadgen import run

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(run, "drive", broken)  # the clients are forked: they run the patched module
    started = time.monotonic()
    with pytest.raises(run.LoadError, match=r"internal error in the load generator \(RuntimeError: boom\)"):
        run.run_load(LoadSpec(port=free_tcp_port(), connections=2, processes=2, duration=30))
    assert time.monotonic() - started < 10
