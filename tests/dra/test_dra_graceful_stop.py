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
import sqlalchemy

from interop.freediameter import ConnectPeer, FreeDiameterConfig, RouteRule
from interop.ports import free_tcp_port
from sigcore.loadgen.driver import ConnectionResult, drive
from sigcore.loadgen.requests import S6A, Target, air, cer
from sigcore.store import Store, migrate
from support.responder import null_responder
from support.s6a import OPC, K

from .nodes import Nodes

IMSI = "001010000000001"

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


@pytest.mark.slow
def test_a_dra_stopped_between_freediameterd_and_a_slow_hss_answers_what_it_had_taken(  # type: ignore[no-untyped-def]
        nodes: Nodes, freediameterd, postgres_url: str) -> None:
    """MME → freeDiameterd 1.2.1 (rt_default) → sigcore DRA → sigcore HSS on PostgreSQL. 16 AIRs wait on a
    lock of the SQN table when the DRA gets SIGTERM, and for 1.5 s more: longer than freeDiameterd keeps a
    connection after DPR/DPA (1 s). The DRA finishes them before it sends any DPR, so every AIR sent before the
    signal is answered 2001; those after its DPR get 3002 from freeDiameterd (no route left). Before, the DRA
    DPR'd the HSS at once and answered them 3002 itself. What freeDiameterd does with the requests it is
    forwarding when our DPR arrives is its own: 1.2.1 was seen (CI, loaded) to keep sending requests to us in
    CLOSING_GRACE, then stall, sending neither the DPA nor anything more, so those go unanswered."""
    hss_port, dra_port, fd_port = free_tcp_port(), free_tcp_port(), free_tcp_port()
    migrate(postgres_url)
    with Store(postgres_url, nodes.kek) as store:
        store.ensure_apn("internet")
        store.add_subscriber(IMSI, ki=K, opc=OPC, apns=["internet"])
    nodes.start("hss1", {"database": {"url": postgres_url, "key_file": str(nodes.kek_path)}}, hss_port)
    nodes.dra("dra", {"hss1": hss_port, "fd.localdomain": 0}, {"routes": [{"peers": ["hss1.localdomain"]}]},
              port=dra_port, wait_peers=["hss1.localdomain"])
    fd = freediameterd(FreeDiameterConfig(identity="fd.localdomain", port=fd_port,
                                          connect_peers=[ConnectPeer("dra.localdomain", dra_port)],
                                          allowed_peers=["mme.localdomain"],
                                          routes=[RouteRule.default_route_to("dra.localdomain")]))
    fd.wait_for_state("dra.localdomain")
    target = Target(imsi_first=int(IMSI))
    templates = [(0, bytearray(air(target, "mme.localdomain", 0)))]
    pid = nodes.procs["dra"].pid
    assert pid is not None
    signalled: list[float] = []
    engine = sqlalchemy.create_engine(postgres_url)

    async def load() -> ConnectionResult:
        loop = asyncio.get_running_loop()
        with engine.connect() as lock:
            lock.execute(sqlalchemy.text("LOCK TABLE auth_data IN ACCESS EXCLUSIVE MODE"))

            def stop() -> None:
                signalled.append(time.perf_counter())
                os.kill(pid, signal.SIGTERM)

            loop.call_later(1.0, stop)
            loop.call_later(2.5, lock.rollback)
            return await drive(fd_port, cer(target, "mme.localdomain", {S6A}), templates, window=16, seconds=4.0,
                               trace=True, answer_timeout=10)

    try:
        result = asyncio.run(load())
    finally:
        engine.dispose()
    assert result.trace is not None and signalled, result
    before = [rc for sent_at, _latency, rc in result.trace if sent_at < signalled[0]]
    after = {rc for sent_at, _latency, rc in result.trace if sent_at >= signalled[0]}
    assert before == [2001] * 16, nodes.log("dra")[-3000:]  # what the DRA had taken: all answered
    assert after <= {2001, 3002}
    assert result.duplicates == 0 and result.sent == len(result.trace) + result.unanswered
