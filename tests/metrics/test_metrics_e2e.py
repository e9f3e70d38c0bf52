"""End to end over real programs: a sigcore Node over TCP counts, flushes to a real redis-server, and the
``snmp-agent`` process answers net-snmp's snmpget/snmpwalk/snmpbulkget with the number of answers the
client received; ``/metrics`` shows the same number; Redis going down never disturbs Diameter.

The HSS S6a handlers are not in the tree yet, so the node serves a credit-control stand-in
(``helpers.cc_stand_in``); the counted path (``Node.on_answer_sent``) is the one S6a answers take.
"""

from __future__ import annotations

import asyncio
import shutil

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services import RedisServer
from sigcore.metrics.http import OpsEndpoint, asgi_app
from sigcore.metrics.redis_store import RedisFlusher, connect, read_snapshot
from sigcore.metrics.registry import Registry
from sigcore.metrics.snmp.oids import RESULT_ANSWERS, RESULT_ENTRY, SIGCORE_MIB, cmd_answers_oid

from .helpers import CC_APP, CCR, EXPERIMENTAL, RestartableRedis, agent, counter_value, snmp, start_pair, stop_pair

pytestmark = [pytest.mark.interop, pytest.mark.slow]
CMD_OID = ".".join(map(str, cmd_answers_oid(CC_APP, CCR)))


def _needs_net_snmp() -> None:
    if not shutil.which("snmpget"):
        pytest.skip("net-snmp tools absent (apt-get install snmp)")


async def _wait_for_snmp(port: int, oid: str, expected: int) -> int:
    """The agent re-reads Redis every 0.2 s: poll (bounded) until it serves the flushed total."""
    value = -1
    for _ in range(50):
        done = await asyncio.to_thread(snmp, "snmpget", port, oid)
        if done.returncode == 0 and "Counter64" in done.stdout:
            value = counter_value(done.stdout)
            if value == expected:
                break
        await asyncio.sleep(0.2)
    return value


async def _prometheus_total(endpoint: OpsEndpoint) -> dict[tuple[str, str], float]:
    transport = httpx.ASGITransport(app=asgi_app(endpoint))
    async with httpx.AsyncClient(transport=transport, base_url="http://sigcore") as client:
        response = await client.get("/metrics")
        assert response.status_code == 200
        assert (await client.get("/healthz")).json() == {"status": "up"}
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    return {(s.labels["result_vendor"], s.labels["result_code"]): s.value
            for s in families["sigcore_diameter_answers"].samples if s.labels["command_code"] == str(CCR)}


async def test_snmp_and_prometheus_show_the_answers_the_client_received(redis_server: RedisServer) -> None:
    _needs_net_snmp()
    url = redis_server.url.rsplit("/", 1)[0] + "/3"
    registry = Registry()
    pair = await start_pair(registry)
    redis = connect(url)
    await redis.flushdb()
    flusher = RedisFlusher(registry, connect(url), interval=3600, before_flush=pair.metrics.poll)
    agent_cm = agent(url)
    snmp_agent = next(agent_cm)
    try:
        answers = await pair.send(range(1, 31)) + await pair.send(range(1001, 1011))
        received = sum(1 for a in answers if a.code == CCR and not a.is_request)
        experimental = sum(1 for a in answers if a.get("Experimental-Result") is not None)
        assert (received, experimental) == (40, 5)
        assert await flusher.flush()

        assert await _wait_for_snmp(snmp_agent.port, CMD_OID, received) == received
        v3 = await asyncio.to_thread(snmp, "snmpget", snmp_agent.port, CMD_OID, version="3")
        assert v3.returncode == 0 and counter_value(v3.stdout) == received
        wrong = await asyncio.to_thread(snmp, "snmpget", snmp_agent.port, CMD_OID, version="3",
                                        v3_auth="not-the-auth-key")
        assert wrong.returncode != 0 and "Counter64" not in wrong.stdout
        assert "authentication" in (wrong.stderr + wrong.stdout).lower()

        walk = await asyncio.to_thread(snmp, "snmpwalk", snmp_agent.port, ".".join(map(str, RESULT_ENTRY)))
        assert walk.returncode == 0, walk.stderr
        results = {line.split(" = ")[0].rsplit(".", 2)[-2:][0] + "/" + line.split(" = ")[0].rsplit(".", 1)[1]:
                   counter_value(line) for line in walk.stdout.splitlines() if "Counter64" in line}
        assert results == {"0/2001": received - experimental, f"{EXPERIMENTAL[0]}/{EXPERIMENTAL[1]}": experimental}
        bulk = await asyncio.to_thread(snmp, "snmpbulkget", snmp_agent.port, ".".join(map(str, SIGCORE_MIB)),
                                       extra=("-Cn0", "-Cr5"))
        assert bulk.returncode == 0 and CMD_OID in bulk.stdout and f"Counter64: {received}" in bulk.stdout

        endpoint = OpsEndpoint(Registry(), redis=redis, node=pair.server)
        assert await _prometheus_total(endpoint) == {("0", "2001"): received - experimental,
                                                     tuple(map(str, EXPERIMENTAL)): experimental}
        ready, checks = await endpoint.readiness()
        assert ready and checks["peers"] == {"mme.localdomain": "R-Open"}
        result_oid = (*RESULT_ENTRY, RESULT_ANSWERS, CC_APP, CCR, 0, 2001)
        assert counter_value((await asyncio.to_thread(snmp, "snmpget", snmp_agent.port,
                                                      ".".join(map(str, result_oid)))).stdout) == 35
    finally:
        try:
            next(agent_cm)
        except StopIteration:
            pass
        await flusher.stop()
        await redis.aclose()
        await stop_pair(pair)


async def test_redis_down_keeps_diameter_answering_and_counting_resumes(private_redis: RestartableRedis) -> None:
    registry = Registry()
    pair = await start_pair(registry)
    flusher = RedisFlusher(registry, connect(private_redis.url), interval=3600, before_flush=pair.metrics.poll)
    reader = connect(private_redis.url)
    try:
        await pair.send(range(1, 11))
        assert await flusher.flush()
        assert (await read_snapshot(reader)).total("dia_answers", CC_APP, CCR) == 10

        private_redis.down()
        during = await pair.send(range(11, 31))  # the node answers while Redis is gone
        assert len(during) == 20 and all(int(a["Result-Code"]) == 2001 for a in during)
        assert not await flusher.flush()  # the flush fails fast, reports it, raises nothing
        assert registry.counters[("metrics_flush_failures",)] == 1
        endpoint = OpsEndpoint(registry, redis=reader, node=pair.server)
        assert (await endpoint.snapshot()).source == "local"  # /metrics degrades to this process's counts

        private_redis.up()
        await pair.send(range(31, 36))
        assert await flusher.flush()
        snap = await read_snapshot(connect(private_redis.url))
        # This redis-server keeps no data across restarts, so it holds what was counted since it went down:
        # the 20 answers of the outage (held in the process) and the 5 after; none lost, none twice.
        assert snap.total("dia_answers", CC_APP, CCR) == 20 + 5
        assert registry.counters[("dia_answers", CC_APP, CCR, 0, 2001)] == 35
        assert snap.counter("metrics_flush_failures") == 1
    finally:
        await flusher.stop()
        await reader.aclose()
        await stop_pair(pair)


async def test_a_batch_retried_after_a_lost_reply_is_applied_once(private_redis: RestartableRedis) -> None:
    registry = Registry()
    registry.inc(("dia_answers", 4, 272, 0, 2001), 7)
    flusher = RedisFlusher(registry, connect(private_redis.url), interval=3600)
    try:
        deltas = flusher._deltas()
        await flusher._send(1, deltas)
        flusher.delivered.clear()  # as if the reply had been lost: the same batch goes again
        await flusher._send(1, deltas)
        snap = await read_snapshot(connect(private_redis.url))
        assert snap.counter("dia_answers", 4, 272, 0, 2001) == 7
    finally:
        await flusher.stop()
