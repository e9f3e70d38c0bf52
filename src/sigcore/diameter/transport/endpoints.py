"""What the node plugs in: listeners (SCTP, TLS, in-band TLS) and the dialer for configured peers.

``NodeSettings.listeners`` takes any object with ``async open(node)``; ``NodeSettings.dialer`` is called
with ``(node, peer_settings, on_made)``. ``configure(settings, cfg)`` fills both from the YAML config.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sigcore.diameter.aio.connection import LISTEN_BACKLOG, Connection
from sigcore.diameter.transport import sctp
from sigcore.diameter.transport.tls import HANDSHAKE_TIMEOUT, InbandTlsConnection, TlsConnection, contexts_from_config

if TYPE_CHECKING:
    from sigcore.diameter.aio.node import Node, NodeSettings, PeerSettings

log = logging.getLogger("sigcore.diameter.transport")


@dataclass(slots=True)
class SctpListener:
    """One multi-homed SCTP endpoint: every address in ``addresses`` at ``port``."""

    addresses: list[str]
    port: int = 3868
    options: sctp.SctpOptions = field(default_factory=sctp.SctpOptions)

    async def open(self, node: Node) -> sctp.SctpServer:
        return await sctp.start_server(lambda: Connection(node, transport_name="sctp"), self.addresses,
                                       self.port, self.options, reuse_port=node.settings.reuse_port)


@dataclass(slots=True)
class TlsListener:
    """A TLS-over-TCP listener: RFC 6733 TLS from the first byte, or RFC 3588 in-band (``inband=True``)."""

    host: str
    port: int
    context: ssl.SSLContext
    inband: bool = False

    async def open(self, node: Node) -> asyncio.base_events.Server:
        loop = asyncio.get_running_loop()
        shared = node.settings.reuse_port or None  # `sigcore run --workers N`: each worker binds the port
        if self.inband:
            server = await loop.create_server(lambda: InbandTlsConnection(node, self.context), self.host,
                                              self.port, reuse_address=True, reuse_port=shared,
                                              backlog=LISTEN_BACKLOG)
        else:
            # the handshake too must end within the CER deadline (which counts from the accept)
            handshake = min(HANDSHAKE_TIMEOUT, node.settings.policy.cer_timeout)
            server = await loop.create_server(lambda: TlsConnection(node), self.host, self.port, reuse_address=True,
                                              reuse_port=shared, ssl=self.context, ssl_handshake_timeout=handshake,
                                              backlog=LISTEN_BACKLOG)
        log.info("diameter listening on %s:%s (%s)", self.host, self.port,
                 "in-band TLS" if self.inband else "TLS")
        return server


@dataclass(slots=True)
class Dialer:
    """Opens a configured peer's connection by its ``transport``: tcp, sctp, tls or tls-inband.

    For SCTP, ``address`` may list several peer addresses separated by commas (tried in order; the
    association learns the others from the INIT-ACK) and ``sctp_local`` are the addresses we bind.
    """

    client_ssl: ssl.SSLContext | None = None
    sctp_local: list[str] | None = None
    sctp_options: sctp.SctpOptions = field(default_factory=sctp.SctpOptions)

    async def __call__(self, node: Node, ps: PeerSettings, on_made: Callable[[Connection], None]) -> None:
        loop = asyncio.get_running_loop()
        kind = ps.transport
        if kind == "sctp":
            remote = [a.strip() for a in ps.address.split(",") if a.strip()]
            await sctp.connect(lambda: Connection(node, initiated=True, on_made=on_made, transport_name="sctp"),
                               remote, ps.port, self.sctp_local, self.sctp_options)
            return
        if kind in ("tls", "tls-inband") and self.client_ssl is None:
            raise OSError(f"peer {ps.name} wants {kind} but diameter.tls has no cert/key/ca")
        if kind == "tls":
            await loop.create_connection(lambda: TlsConnection(node, initiated=True, on_made=on_made),
                                         ps.address, ps.port, ssl=self.client_ssl, server_hostname=ps.name,
                                         ssl_handshake_timeout=HANDSHAKE_TIMEOUT)
        elif kind == "tls-inband":
            assert self.client_ssl is not None
            ctx = self.client_ssl
            await loop.create_connection(
                lambda: InbandTlsConnection(node, ctx, initiated=True, on_made=on_made, server_hostname=ps.name),
                ps.address, ps.port)
        else:
            await loop.create_connection(lambda: Connection(node, initiated=True, on_made=on_made),
                                         ps.address, ps.port)


def configure(settings: NodeSettings, cfg: Any) -> NodeSettings:
    """Add the transports ``cfg.diameter`` asks for to ``settings`` (from ``NodeSettings.from_config``).

    ``transport: sctp`` moves the ``listen`` endpoints to SCTP, ``both`` adds SCTP next to TCP; SCTP binds
    ``bind`` (several addresses = multi-homing) or else the listen hosts, on each listen port.
    ``tls.listen`` endpoints serve RFC 6733 TLS (``tls.inband: true`` there: RFC 3588 in-band instead).
    """
    from sigcore.config import split_host_port

    d = cfg.diameter
    sctp_cfg = getattr(d, "sctp", None)  # proposed `diameter.sctp` section, same keys as SctpOptions
    sctp_options = sctp.SctpOptions(**sctp_cfg.model_dump()) if sctp_cfg is not None else sctp.SctpOptions()
    if d.transport in ("sctp", "both"):
        ports = sorted({port for _host, port in settings.listen}) or [3868]
        addresses = list(d.bind) or sorted({host for host, _port in settings.listen}) or ["0.0.0.0"]
        settings.listeners += [SctpListener(addresses, port, sctp_options) for port in ports]
        if d.transport == "sctp":
            settings.listen = []
    contexts = contexts_from_config(d.tls)
    client_ssl = None
    if contexts is not None:
        server_ssl, client_ssl = contexts
        inband = bool(getattr(d.tls, "inband", False))
        for text in d.tls.listen:
            host, port = split_host_port(text, 5868)
            settings.listeners.append(TlsListener(host, port, server_ssl, inband=inband))
    settings.dialer = Dialer(client_ssl, list(d.bind) or None, sctp_options)
    return settings
