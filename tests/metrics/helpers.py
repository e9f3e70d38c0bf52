"""Shared pieces of the metrics tests: the S6a HSS with metrics installed as ``sigcore run`` does, a
credit-control server/client pair (unit tests and bench/metrics_overhead.py), net-snmp calls, a private
redis-server that can be stopped and restarted on the same port, and the SNMP agent as a real process."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from interop.ports import LOOPBACK, free_tcp_port, free_udp_port
from interop.process import LoggedProcess
from sigcore import config
from sigcore.applications import AppContext, Services
from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.aio import Node, NodeSettings, RequestContext
from sigcore.diameter.aio.node import PeerSettings
from sigcore.diameter.answers import Identity, answer, request
from sigcore.diameter.message import Message
from sigcore.diameter.peer import PeerPolicy
from sigcore.metrics import service as metrics_service
from sigcore.metrics.diameter import NodeMetrics
from sigcore.metrics.http import OpsEndpoint
from sigcore.metrics.redis_store import RedisFlusher
from sigcore.metrics.registry import Registry
from support.s6a import (
    HOME_PLMN,
    IMSI,
    OPC,
    HssThread,
    K,
    air,
    experimental,
    mme,
    new_kek,
    provision,
    sqlite_url,
)
from support.services import RedisServer
from support.usim_model import Accepted, UsimModel

CC_APP, CCR = 4, 272
S6A_APP, AIR = 16777251, 318
USER_UNKNOWN = (10415, 5001)  # TS 29.272 §7.4.3.1 DIAMETER_ERROR_USER_UNKNOWN, an Experimental-Result
MME = "mme.localdomain"
UNKNOWN_IMSI = "001019999999999"
V3_USER, V3_AUTH, V3_PRIV = "nms", "auth-pass-phrase", "priv-pass-phrase"
COMMUNITY = "sigcore-test"
EXPERIMENTAL = (10415, 5030)  # 3GPP DIAMETER_ERROR_USER_NO_... stand-in for an Experimental-Result answer


def cc_stand_in(req: Message, ctx: RequestContext) -> Message:
    """Credit-control stand-in for the HSS: 2001, or an Experimental-Result for odd request numbers >= 1000."""
    number = int(req["CC-Request-Number"])
    avps = [D.build("Auth-Application-Id", CC_APP), D.build("CC-Request-Type", req["CC-Request-Type"]),
            D.build("CC-Request-Number", number)]
    if number >= 1000 and number % 2:
        return answer(req, ctx.node.identity, None, avps, experimental=EXPERIMENTAL)
    return answer(req, ctx.node.identity, 2001, avps)


def ccr(number: int) -> Message:
    return request(CCR, CC_APP, [
        D.build("Session-Id", f"mme.localdomain;1;{number}"), D.build("Origin-Host", "mme.localdomain"),
        D.build("Origin-Realm", "localdomain"), D.build("Destination-Realm", "localdomain"),
        D.build("Auth-Application-Id", CC_APP), D.build("Service-Context-Id", "32251@3gpp.org"),
        D.build("CC-Request-Type", 4),
        D.build("CC-Request-Number", number)])


@dataclass
class Pair:
    server: Node
    client: Node
    metrics: NodeMetrics
    registry: Registry = field(default_factory=Registry)

    async def send(self, numbers: range) -> list[Message]:
        return [await self.client.request(ccr(n), timeout=5.0) for n in numbers]


async def start_pair(registry: Registry) -> Pair:
    policy = PeerPolicy(tw=30.0, tc=1.0, cer_timeout=3.0, dpa_timeout=1.0)
    server = Node(NodeSettings(Identity("hss.localdomain", "localdomain"), listen=[(LOOPBACK, 0)], policy=policy))
    server.register(CC_APP, CCR, cc_stand_in)
    metrics = NodeMetrics(registry)
    metrics.attach(server)
    await server.start()
    client = Node(NodeSettings(Identity("mme.localdomain", "localdomain"), listen=[], policy=policy,
                               peers=[PeerSettings("hss.localdomain", LOOPBACK, server.bound_ports[0], "connect")]))
    client.advertise(CC_APP)
    await client.start()
    for _ in range(500):
        if client.open_peers(CC_APP):
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("client never reached an open state with the server")
    return Pair(server, client, metrics, registry)


async def stop_pair(pair: Pair) -> None:
    await pair.client.stop(wait=0.5)
    await pair.server.stop(wait=0.5)


class MeteredHss:
    """The S6a HSS (SQLite store, one provisioned subscriber) on a TCP port, with metrics installed on its
    node by ``sigcore.metrics.service.install`` as ``sigcore run`` does: the Redis flusher running every
    ``flush_interval`` seconds and ``/metrics`` served over HTTP on ``http_port``.

    The process-wide registry is replaced by a fresh one for the test (``registry``), so counts made by
    other tests in this process cannot leak into the numbers compared here.
    """

    def __init__(self, tmp: Path, redis_url: str, flush_interval: float, registry: Registry) -> None:
        self.registry = registry
        self.http_port = free_tcp_port()
        self.hss = HssThread(provision(sqlite_url(tmp), new_kek()))
        self.services = Services(node=self.hss.node)
        cfg = config.parse_config({"metrics": {"redis": {"url": redis_url, "flush_interval": flush_interval}},
                                   "api": {"enabled": False, "listen": f"{LOOPBACK}:{self.http_port}"}})
        metrics_service.install(self.hss.node, AppContext(cfg, self.hss.node, self.services))

    @property
    def port(self) -> int:
        return self.hss.port

    @property
    def flusher(self) -> RedisFlusher:
        assert self.services.metrics_flusher is not None
        return self.services.metrics_flusher

    @property
    def endpoint(self) -> OpsEndpoint:
        assert self.services.metrics is not None
        return self.services.metrics

    def flush(self) -> bool:
        return self.hss.run(self.flusher.flush())

    def start(self) -> None:
        self.hss.start()
        for starter in self.services.starters:
            self.hss.run(starter())

    def stop(self) -> None:
        try:
            for stopper in reversed(self.services.stoppers):
                try:
                    self.hss.run(stopper())
                except TimeoutError:  # name the one that hung (CI once saw a bare TimeoutError here)
                    raise AssertionError(f"{stopper.__qualname__} did not return within the run timeout") from None
        finally:
            self.hss.stop()
            self.hss.store.close()


class S6aClient:
    """The S6a test client (python-diameter, an independent implementation) connected to the HSS.

    ``airs`` sends AIRs one after the other and keeps every AIA received; each success's E-UTRAN vector
    is checked by the USIM model (MAC accepted, RES = XRES, KASME derived alike), so the counted answers
    are real ones.
    """

    def __init__(self, port: int) -> None:
        self.peer = mme(MME, port)
        self.usim = UsimModel(K, OPC)
        self.received: list[Any] = []

    def __enter__(self) -> S6aClient:
        self.peer.__enter__()
        self.peer.wait_ready()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.peer.__exit__(*exc)

    def airs(self, count: int, imsi: str = IMSI) -> list[Any]:
        answers = [air(self.peer, imsi) for _ in range(count)]
        for aia in answers:
            if aia.result_code == 2001:
                vector = aia.authentication_info.e_utran_vector[0]
                outcome = self.usim.authenticate_eutran(vector.rand, vector.autn, HOME_PLMN)
                assert isinstance(outcome, Accepted)
                assert (outcome.res, outcome.kasme) == (vector.xres, vector.kasme)
        self.received += answers
        return answers

    def count(self, result: tuple[int, int]) -> int:
        """AIAs received with this (vendor, code): vendor 0 for a Result-Code."""
        vendor, code = result
        return sum(1 for a in self.received
                   if (experimental(a) if vendor else getattr(a, "result_code", None)) == code)


def snmp(tool: str, port: int, *oids: str, v3_auth: str = V3_AUTH, version: str = "2c",
         extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """Run a net-snmp tool against the agent: numeric OIDs, no MIB files loaded, one try of 2 s."""
    if version == "3":
        auth = ["-v3", "-l", "authPriv", "-u", V3_USER, "-a", "SHA", "-A", v3_auth, "-x", "AES", "-X", V3_PRIV]
    else:
        auth = ["-v2c", "-c", COMMUNITY]
    argv = [tool, "-m", "", "-On", "-t", "2", "-r", "1", *auth, *extra, f"{LOOPBACK}:{port}", *oids]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


def counter_value(output: str) -> int:
    """``.1.3... = Counter64: 42`` → 42 (the last line's value)."""
    return int(output.strip().splitlines()[-1].rsplit(":", 1)[1])


class RestartableRedis(RedisServer):
    """A private redis-server whose process can be stopped and started again on the same port."""

    def down(self) -> None:
        assert self.process is not None
        self.process.stop(timeout=10.0)

    def up(self) -> None:
        self.start()


class AgentProcess:
    """``snmp-agent`` as a real process (tests/metrics/agent_main.py) with a YAML config."""

    def __init__(self, redis_url: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="sigcore-snmp-"))
        self.port = free_udp_port()
        cfg = {"metrics": {"redis": {"url": redis_url}, "snmp": {
            "listen": f"{LOOPBACK}:{self.port}", "community": COMMUNITY,
            "v3_user": V3_USER, "v3_auth_key": V3_AUTH, "v3_priv_key": V3_PRIV}}}
        (self.dir / "sigcore.yaml").write_text(yaml.safe_dump(cfg))
        script = Path(__file__).with_name("agent_main.py")
        self.process = LoggedProcess([sys.executable, str(script), "snmp-agent", "--config",
                                      str(self.dir / "sigcore.yaml"), "--refresh", "0.2"], self.dir / "agent.log")

    def start(self) -> None:
        self.process.start()
        self.process.wait_for(r"snmp-agent listening", timeout=30.0)

    def stop(self) -> None:
        if self.process.pid is not None and self.process.is_running():
            os.killpg(self.process.pid, signal.SIGTERM)
        self.process.stop(timeout=10.0)
        shutil.rmtree(self.dir, ignore_errors=True)


def agent(redis_url: str) -> Iterator[AgentProcess]:
    proc = AgentProcess(redis_url)
    try:
        proc.start()
        yield proc
    finally:
        proc.stop()
