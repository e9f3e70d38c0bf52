"""The SNMP agent: pysnmp's command responders (GET, GETNEXT, GETBULK) over a snapshot of the metrics.

pysnmp's own MIB instrumentation wants one Python object per managed object, which suits static MIBs, not
tables whose rows come and go with every flush. Instead the agent registers ``SnapshotInstrumentation`` as
the default context's instrumentation: a sorted list of (OID, value) rebuilt from the metric snapshot every
``refresh`` seconds. Access control (community / USM user → VACM view) is still pysnmp's, through the
``acFun`` callback the responders pass in.
"""

from __future__ import annotations

import logging
import socket
from bisect import bisect_right
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pysnmp.carrier.asyncio.dgram import udp, udp6  # type: ignore[import-untyped]
from pysnmp.entity import config, engine  # type: ignore[import-untyped]
from pysnmp.entity.rfc3413 import cmdrsp, context  # type: ignore[import-untyped]
from pysnmp.proto import rfc1902, rfc1905  # type: ignore[import-untyped]
from pysnmp.smi import error as smi_error  # type: ignore[import-untyped]

from sigcore.log_limit import RateLimitedLog
from sigcore.metrics.snapshot import Snapshot
from sigcore.metrics.snmp.oids import SIGCORE_MIB, Oid, Row, rows
from sigcore.periodic import Periodic

log = logging.getLogger("sigcore.metrics.snmp")
limited_log = RateLimitedLog(log)

_TYPES: dict[str, Callable[[int], Any]] = {
    "counter64": rfc1902.Counter64,
    "gauge32": lambda v: rfc1902.Gauge32(min(max(v, 0), 0xFFFFFFFF)),
    "integer": rfc1902.Integer32,
}
_COMMUNITY_INDEX = "sigcore-ro"


class SnapshotInstrumentation:
    """Read-only MIB instrumentation over a sorted list of rows (duck-types pysnmp's controller)."""

    def __init__(self) -> None:
        self._oids: list[Oid] = []
        self._values: dict[Oid, Any] = {}

    def update(self, new_rows: list[Row]) -> None:
        values = {oid: _TYPES[kind](value) for oid, kind, value in new_rows}
        self._oids, self._values = sorted(values), values

    def _visible(self, oid: Oid, value: Any, idx: int, ctx: dict[str, Any]) -> bool:
        ac_fun = ctx.get("acFun")
        if ac_fun is None:
            return True
        try:
            return not ac_fun("read", (rfc1902.ObjectName(oid), value), **{**ctx, "idx": idx})
        except smi_error.NoAccessError:  # e.g. Counter64 to an SNMPv1 manager
            return False

    def read_variables(self, *var_binds: Any, **ctx: Any) -> list[tuple[Any, Any]]:
        out = []
        for idx, (name, _) in enumerate(var_binds):
            oid = tuple(name)
            value = self._values.get(oid)
            if value is None or not self._visible(oid, value, idx, ctx):
                value = rfc1905.noSuchInstance if oid[: len(SIGCORE_MIB)] == SIGCORE_MIB else rfc1905.noSuchObject
            out.append((name, value))
        return out

    def read_next_variables(self, *var_binds: Any, **ctx: Any) -> list[tuple[Any, Any]]:
        out = []
        oids = self._oids
        for idx, (name, _) in enumerate(var_binds):
            pos = bisect_right(oids, tuple(name))
            while pos < len(oids) and not self._visible(oids[pos], self._values[oids[pos]], idx, ctx):
                pos += 1
            if pos < len(oids):
                out.append((rfc1902.ObjectName(oids[pos]), self._values[oids[pos]]))
            else:
                out.append((name, rfc1905.endOfMibView))
        return out


@dataclass(slots=True)
class AgentSettings:
    host: str = "127.0.0.1"
    port: int = 1161
    community: str | None = "public"
    v3_user: str | None = None
    v3_auth_key: str | None = None
    v3_priv_key: str | None = None
    refresh: float = 1.0


def bound_socket(host: str, port: int) -> socket.socket:
    """The agent's UDP socket, bound now. pysnmp binds its own in a future nobody awaits: a port in use
    went unnoticed (the agent said it listened and served nothing). Raises OSError."""
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def _guard_receive(snmp: engine.SnmpEngine) -> None:
    """Put a guard around pysnmp's handling of each datagram. Its own decoding errors it drops quietly, but
    some malformed messages make pysnmp 7 / pyasn1 0.6 raise TypeError instead, which reached asyncio's
    exception handler as a 25-line traceback per datagram: a log anyone who can send UDP here could fill.
    Such a datagram is dropped with one rate-limited line naming its sender."""
    dispatcher = snmp.transport_dispatcher
    receive = snmp.message_dispatcher.receive_message

    def guarded(_dispatcher: Any, domain: Any, address: Any, datagram: bytes) -> None:
        try:
            receive(snmp, domain, address, datagram)
        except Exception as err:
            sender = f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)
            limited_log.warning("snmp-undecodable", "SNMP: dropped a datagram from %s that could not be "
                                "decoded (%d octets, %s)", sender, len(datagram), type(err).__name__)

    dispatcher.unregister_recv_callback(None)  # the engine's own, which calls receive_message unguarded
    dispatcher.register_recv_callback(guarded)


class SnmpAgent:
    """Serve ``source()`` snapshots over SNMP v2c (community) and v3 USM authPriv (HMAC-SHA-96, AES-128)."""

    def __init__(self, settings: AgentSettings, source: Callable[[], Awaitable[Snapshot]]) -> None:
        self.settings = settings
        self.source = source
        self.instrumentation = SnapshotInstrumentation()
        self.engine: engine.SnmpEngine | None = None
        self._loop = Periodic(self.refresh, settings.refresh, "snmp-refresh")

    def _configure(self) -> engine.SnmpEngine:
        s = self.settings
        sock = bound_socket(s.host, s.port)
        snmp = engine.SnmpEngine()
        carrier = udp6 if sock.family == socket.AF_INET6 else udp
        transport = carrier.Udp6Transport() if carrier is udp6 else carrier.UdpTransport()
        config.add_transport(snmp, carrier.DOMAIN_NAME, transport.open_server_mode(sock=sock))
        _guard_receive(snmp)
        if s.community:
            config.add_v1_system(snmp, _COMMUNITY_INDEX, s.community)
            config.add_vacm_user(snmp, 2, _COMMUNITY_INDEX, "noAuthNoPriv", SIGCORE_MIB)
        if s.v3_user:
            if not (s.v3_auth_key and s.v3_priv_key):
                raise ValueError("SNMPv3 needs both metrics.snmp.v3_auth_key and v3_priv_key (authPriv only)")
            config.add_v3_user(snmp, s.v3_user, config.USM_AUTH_HMAC96_SHA, s.v3_auth_key,
                               config.USM_PRIV_CFB128_AES, s.v3_priv_key)
            config.add_vacm_user(snmp, 3, s.v3_user, "authPriv", SIGCORE_MIB)
        snmp_context = context.SnmpContext(snmp)
        snmp_context.unregister_context_name(b"")
        snmp_context.register_context_name(b"", self.instrumentation)
        cmdrsp.GetCommandResponder(snmp, snmp_context)
        cmdrsp.NextCommandResponder(snmp, snmp_context)
        cmdrsp.BulkCommandResponder(snmp, snmp_context)
        snmp.transport_dispatcher.job_started(1)
        return snmp

    async def refresh(self) -> None:
        """Rebuild the served tree from a fresh snapshot; keep the old one if the source fails."""
        try:
            snapshot = await self.source()
        except Exception as err:
            log.warning("SNMP agent: metrics source failed (%s); serving the previous values", err)
            return
        self.instrumentation.update(rows(snapshot))

    async def start(self) -> None:
        await self.refresh()
        self.engine = self._configure()
        self._loop.start()
        log.info("SNMP agent on udp %s:%d (v2c %s, v3 %s)", self.settings.host, self.settings.port,
                 "on" if self.settings.community else "off", self.settings.v3_user or "off")

    async def stop(self) -> None:
        await self._loop.stop()  # asked, not cancelled: a refresh reads Redis (``sigcore.periodic``)
        if self.engine is not None:
            self.engine.transport_dispatcher.job_finished(1)
            self.engine.close_dispatcher()
            self.engine = None
