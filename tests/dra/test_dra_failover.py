"""Black box: one of two HSS processes behind a `sigcore run` DRA is killed (SIGKILL, no DPR) during a paced
AIR load. Every request is answered exactly once, 2001 or 3002, and the survivor takes the load within Tw."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from interop.ports import free_tcp_port
from interop.tshark import diameter_messages
from sigcore.diameter.constants import FLAG_RETRANSMIT
from sigcore.loadgen.driver import drive
from sigcore.loadgen.requests import S6A, Target, air, cer

from .nodes import Nodes

pytestmark = [pytest.mark.interop, pytest.mark.slow]
USERS = 40
TW = 6.0
JITTER = 2.0  # RFC 3539: Tw is jittered by up to 2 s each way


def test_killing_one_hss_under_load_answers_every_request_once(nodes: Nodes) -> None:
    target = Target(imsi_first=1010000000000)
    imsis = [target.imsi(n) for n in range(USERS)]
    hss1, hss2 = nodes.hss("hss1", imsis), nodes.hss("hss2", imsis)
    dra = nodes.dra("dra", {"hss1": hss1, "hss2": hss2}, {"routes": [
        {"name": "both", "peers": ["hss1.localdomain", "hss2.localdomain"]}]})
    templates = [(0, bytearray(air(target, "mme.localdomain", n))) for n in range(USERS)]
    kill_at = 2.0

    async def load() -> tuple[float, object]:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        loop.call_later(kill_at, nodes.kill, "hss1")
        result = await drive(dra, cer(target, "mme.localdomain", {S6A}), templates, window=16,
                             seconds=kill_at + TW + 2.0, rate=100, trace=True, answer_timeout=20)
        return started, result

    started, result = asyncio.run(load())
    assert result.trace is not None  # for mypy
    assert result.sent > 700 and result.unanswered == 0 and result.duplicates == 0
    assert len(result.trace) == result.sent  # answered exactly once each
    assert set(result.results) <= {2001, 3002}, result.results
    after_tw = [rc for sent_at, _, rc in result.trace if sent_at - started > kill_at + TW]
    assert after_tw and set(after_tw) == {2001}  # the survivor has taken the load
    before = [rc for sent_at, _, rc in result.trace if sent_at - started < kill_at - 0.2]
    assert set(before) == {2001}
    log = nodes.log("dra")
    assert "peer hss1.localdomain down" in log


def test_a_frozen_hss_times_out_and_its_requests_fail_over(nodes: Nodes, tshark_capture) -> None:  # type: ignore[no-untyped-def]
    """SIGSTOP: the connection stays up but nothing answers. Requests sent to it fail over after
    request_timeout with the T-flag; once its watchdog fails (Tw, then Tw more) it gets no new ones."""
    target = Target(imsi_first=1010000000000)
    imsis = [target.imsi(n) for n in range(USERS)]
    hss2_port = free_tcp_port()
    capture = tshark_capture([hss2_port])
    hss1, hss2 = nodes.hss("hss1", imsis), nodes.hss("hss2", imsis, hss2_port)
    dra = nodes.dra("dra", {"hss1": hss1, "hss2": hss2}, {"routes": [
        {"name": "both", "peers": ["hss1.localdomain", "hss2.localdomain"]}]})
    templates = [(0, bytearray(air(target, "mme.localdomain", n))) for n in range(USERS)]
    pid = nodes.procs["hss1"].pid
    assert pid is not None
    freeze_at, timeout = 1.0, 3.0  # diameter.timers.request_timeout of tests/dra/nodes.py

    async def load() -> tuple[float, object]:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        loop.call_later(freeze_at, os.kill, pid, signal.SIGSTOP)
        result = await drive(dra, cer(target, "mme.localdomain", {S6A}), templates, window=64,
                             seconds=freeze_at + 2 * (TW + JITTER) + 3.0, rate=50, trace=True, answer_timeout=20)
        return started, result

    try:
        started, result = asyncio.run(load())
    finally:
        os.kill(pid, signal.SIGCONT)
    assert result.trace is not None
    assert result.unanswered == 0 and result.duplicates == 0 and len(result.trace) == result.sent
    assert set(result.results) <= {2001, 3002}, result.results
    failed_over = [lat for sent_at, lat, rc in result.trace if rc == 2001 and lat > timeout - 0.5]
    assert failed_over  # answered by hss2 after hss1's request_timeout
    settled = [(lat, rc) for sent_at, lat, rc in result.trace
               if sent_at - started > freeze_at + 2 * (TW + JITTER) + 0.5]
    assert settled and all(rc == 2001 and lat < 1.0 for lat, rc in settled)
    assert "no answer in time" in nodes.log("dra")
    nodes.stop_all()
    capture.stop()
    resent = [p for p in diameter_messages(capture.pcap_path, [hss2_port])
              if p.is_request and p.command_code == 318 and p.flags & FLAG_RETRANSMIT]
    assert len(resent) >= len(failed_over)  # every failed-over AIR reached hss2 with the T-flag
