"""Black box: a `sigcore run` DRA stopped (SIGTERM) in the middle of an unpaced load, 16 requests always in
flight. Every request sent is answered 2001: the DRA tells its client to stop (DPR), keeps that connection
for the answers, and DPRs its upstream only once it has answered them. Before, the upstream got its DPR at
the same moment, closed, and everything in flight came back 3002; the load generator stopped reading at the
DPR and counted the rest as unanswered."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator

import pytest

from sigcore.loadgen.driver import drive
from sigcore.loadgen.requests import S6A, Target, air, cer
from support.responder import null_responder

from .nodes import Nodes

pytestmark = [pytest.mark.interop]


@pytest.fixture
def upstream() -> Iterator[int]:
    """The null responder as hss1.localdomain."""
    with null_responder("hss1.localdomain") as port:
        yield port


def test_a_dra_stopped_under_load_answers_every_request_it_took(nodes: Nodes, upstream: int) -> None:
    dra = nodes.dra("dra", {"hss1": upstream}, {"routes": [{"name": "all", "peers": ["hss1.localdomain"]}]})
    target = Target(imsi_first=1010000000000)
    templates = [(0, bytearray(air(target, "mme.localdomain", n))) for n in range(8)]
    pid = nodes.procs["dra"].pid
    assert pid is not None

    async def load() -> object:
        asyncio.get_running_loop().call_later(1.0, os.kill, pid, signal.SIGTERM)
        return await drive(dra, cer(target, "mme.localdomain", {S6A}), templates, window=16, seconds=10.0,
                           answer_timeout=5)

    result = asyncio.run(load())
    assert result.left, "the DRA sent no DPR"  # type: ignore[attr-defined]
    assert result.sent > 100 and result.unanswered == 0, result  # type: ignore[attr-defined]
    assert result.results == {2001: result.sent}, result  # type: ignore[attr-defined]
    dra_process = nodes.procs["dra"]
    deadline = time.monotonic() + 15
    while dra_process.returncode is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dra_process.returncode == 0, dra_process.log_tail()
