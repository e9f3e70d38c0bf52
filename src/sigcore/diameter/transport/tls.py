"""Diameter over TLS (RFC 6733 §13): contexts, the certificate identity check, and both connection styles.

- RFC 6733 style: TLS from the first byte on the secure port (5868). ``TlsConnection`` only adds the
  identity check: the first message (CER when we accepted, CEA when we dialled) must come from an
  Origin-Host the peer's certificate names.
- RFC 3588 style: a cleartext CER/CEA carrying Inband-Security-Id = 1 (TLS), then the TLS handshake on the
  same connection (``loop.start_tls``) before anything else. ``InbandTlsConnection`` adds the AVP to our
  CER/CEA, refuses a peer that does not ask for TLS (5017), holds all output during the handshake and
  checks the identity afterwards. Nothing but CER/CEA ever travels in clear.

Both are ``Connection`` subclasses, so the node, the peer state machine and handlers see no difference.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sigcore.diameter.aio.connection import Connection
from sigcore.diameter.capabilities import make_cea
from sigcore.diameter.constants import FLAG_ERROR, Cmd, ResultCode
from sigcore.diameter.dictionary import DICTIONARY
from sigcore.diameter.errors import DecodeError
from sigcore.diameter.message import Message

if TYPE_CHECKING:
    from sigcore.diameter.aio.node import Node

log = logging.getLogger("sigcore.diameter.tls")

SECURE_PORT = 5868  # RFC 6733 §2.1: Diameter over TLS/TCP
NO_INBAND_SECURITY = 0
INBAND_TLS = 1
HANDSHAKE_TIMEOUT = 10.0
_INBAND = DICTIONARY.avp("Inband-Security-Id").key


# --- contexts ---------------------------------------------------------------------------------------
class EncryptedKey(ValueError):
    """The private key file is passphrase-protected: OpenSSL would ask for it on the terminal (a service
    has none, and waited for ever)."""


def _no_passphrase() -> bytes:
    raise EncryptedKey("the private key is encrypted; give it unencrypted (mode 0600)")


def _context(purpose: ssl.Purpose, cert: str, key: str, ca: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(purpose, cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2  # RFC 6733 §13 asks for TLS 1.0+; 1.0/1.1 are broken now
    ctx.load_cert_chain(cert, key, password=_no_passphrase)
    ctx.verify_mode = ssl.CERT_REQUIRED  # mutual authentication, both directions
    return ctx


def server_context(cert: str, key: str, ca: str) -> ssl.SSLContext:
    """For accepted connections: our certificate, and the client must present one signed by ``ca``."""
    return _context(ssl.Purpose.CLIENT_AUTH, cert, key, ca)


def client_context(cert: str, key: str, ca: str) -> ssl.SSLContext:
    """For dialled connections: our certificate, and the server's must name the peer we dial."""
    ctx = _context(ssl.Purpose.SERVER_AUTH, cert, key, ca)
    ctx.check_hostname = True
    return ctx


def contexts_from_config(tls: Any) -> tuple[ssl.SSLContext, ssl.SSLContext] | None:
    """(server, client) contexts from ``diameter.tls`` ({cert, key, ca}); None when TLS is not set up."""
    if not (tls.cert and tls.key and tls.ca):
        return None
    return server_context(tls.cert, tls.key, tls.ca), client_context(tls.cert, tls.key, tls.ca)


# --- identity ---------------------------------------------------------------------------------------
def certificate_identities(peercert: dict[str, Any] | None) -> list[str]:
    """The DiameterIdentities a verified certificate vouches for: its SAN dNSNames, else its CN."""
    if not peercert:
        return []
    names = [value for kind, value in peercert.get("subjectAltName", ()) if kind == "DNS"]
    if names:
        return names
    return [value for rdn in peercert.get("subject", ()) for key, value in rdn if key == "commonName"]


def identity_matches(peercert: dict[str, Any] | None, origin_host: str) -> bool:
    """Exact (case-insensitive) match, or a ``*.`` wildcard standing for exactly one leftmost label."""
    host = origin_host.lower().rstrip(".")
    for name in certificate_identities(peercert):
        name = name.lower().rstrip(".")
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False


def _origin_host(frame: bytes) -> tuple[Message | None, str | None]:
    try:
        msg = Message.decode(frame)
    except DecodeError:
        return None, None
    origin = msg.get("Origin-Host")
    return msg, None if origin is None else str(origin)


def _inband_ids(msg: Message) -> list[int]:
    return [int(v) for v in DICTIONARY.get_values(msg.avps, "Inband-Security-Id")]


def _with_inband_tls(data: bytes) -> bytes:
    """The CER/CEA ``data`` re-encoded with exactly one Inband-Security-Id = TLS."""
    msg = Message.decode(data)
    msg.avps = [a for a in msg.avps if (a.code, a.vendor) != _INBAND]
    msg.avps.append(DICTIONARY.build("Inband-Security-Id", INBAND_TLS))
    return msg.encode()


class _IdentityChecked(Connection):
    """Refuses the first CER/CEA whose Origin-Host the peer's certificate does not name."""

    def _identity_ok(self, msg: Message | None, origin: str | None) -> bool:
        if msg is None or origin is None or msg.code != Cmd.CAPABILITIES_EXCHANGE:
            return True  # not a capabilities exchange: the node judges (and refuses) it
        if identity_matches(self.tls_peer_cert, origin):
            return True
        log.warning("%s: certificate %s does not name Origin-Host %s: refusing", self.remote[0],
                    certificate_identities(self.tls_peer_cert), origin)
        if msg.is_request and self.node.capabilities is not None:
            cea = make_cea(msg, self.node.capabilities, ResultCode.UNKNOWN_PEER, "certificate does not match")
            cea.flags |= FLAG_ERROR
            self.send_bytes(cea.encode())
            self.close()
        else:
            self.abort()
        return False


class TlsConnection(_IdentityChecked):
    """A connection that was TLS from its first byte (RFC 6733); the first CER/CEA is identity-checked."""

    def __init__(self, node: Node, initiated: bool = False,
                 on_made: Callable[[Connection], None] | None = None) -> None:
        super().__init__(node, initiated, on_made, transport_name="tls")
        self._checked = False

    def frame_received(self, frame: bytes) -> None:
        if not self._checked:
            self._checked = True
            if not self._identity_ok(*_origin_host(frame)):
                return
        super().frame_received(frame)


class InbandTlsConnection(_IdentityChecked):
    """RFC 3588 in-band security: CER/CEA in clear with Inband-Security-Id = TLS, then TLS (start_tls)."""

    def __init__(self, node: Node, context: ssl.SSLContext, initiated: bool = False,
                 on_made: Callable[[Connection], None] | None = None, server_hostname: str | None = None) -> None:
        super().__init__(node, initiated, on_made, transport_name="tls-inband")
        self._context = context
        self._server_hostname = server_hostname
        self._phase = "cer"  # cer -> cea -> handshake -> tls
        self._origin: str | None = None
        self._lost = False
        self._upgrade_task: asyncio.Future[None] | None = None

    # initiator: CER out (with the AVP), CEA in, then handshake. responder: CER in, CEA out, then handshake.
    def send_bytes(self, data: bytes | bytearray) -> None:
        if self._phase == "cer" and self.initiated:
            data = _with_inband_tls(bytes(data))
            self._phase = "cea"
        elif self._phase == "cea" and not self.initiated and self.transport is not None:
            self._send_cea_then_upgrade(bytes(data))
            return
        super().send_bytes(data)

    def frame_received(self, frame: bytes) -> None:
        if self._phase == "tls":
            super().frame_received(frame)
            return
        msg, origin = _origin_host(frame)
        if msg is None or msg.code != Cmd.CAPABILITIES_EXCHANGE or self._phase not in ("cer", "cea"):
            log.warning("%s: %s before in-band TLS: closing", self.remote[0], "message" if msg else "garbage")
            self.abort()
            return
        self._origin = origin
        if msg.is_request:  # responder
            if INBAND_TLS not in _inband_ids(msg):
                self._refuse_cleartext(msg)
                return
            self._phase = "cea"
            super().frame_received(frame)
        elif msg.get("Result-Code") == ResultCode.SUCCESS and INBAND_TLS not in _inband_ids(msg):
            log.warning("%s: CEA from %s does not select in-band TLS: closing", self.remote[0], origin)
            self.abort()
        else:
            if msg.get("Result-Code") == ResultCode.SUCCESS:
                self._begin_handshake()
            super().frame_received(frame)

    def _refuse_cleartext(self, cer: Message) -> None:
        log.warning("%s: CER from %s offers no TLS: 5017", self.remote[0], self._origin)
        if self.node.capabilities is not None:
            self.send_bytes(make_cea(cer, self.node.capabilities, ResultCode.NO_COMMON_SECURITY,
                                     "TLS is required").encode())
        self.close()

    def _send_cea_then_upgrade(self, data: bytes) -> None:
        msg = Message.decode(data)
        if msg.get("Result-Code") != ResultCode.SUCCESS:
            self._phase = "refused"
            super().send_bytes(data)
            return
        assert self.transport is not None
        self._flush()
        self.transport.write(_with_inband_tls(data))
        self._begin_handshake()

    def _begin_handshake(self) -> None:
        """Stop reading and hold output until TLS is up; nothing else may pass in clear."""
        assert self.transport is not None
        self._phase = "handshake"
        self.transport.pause_reading()
        self._upgrade_task = asyncio.ensure_future(self._upgrade())

    def _flush(self) -> None:
        if self._phase == "handshake":
            self._flush_scheduled = False
            return
        super()._flush()

    async def _upgrade(self) -> None:
        loop = asyncio.get_running_loop()
        assert self.transport is not None
        try:
            tls = await loop.start_tls(self.transport, self, self._context, server_side=not self.initiated,
                                       server_hostname=self._server_hostname if self.initiated else None,
                                       ssl_handshake_timeout=HANDSHAKE_TIMEOUT)
        except (OSError, ssl.SSLError) as err:  # ConnectionError and TimeoutError are OSErrors
            log.warning("%s: in-band TLS handshake failed: %s", self.remote[0], err)
            self.connection_lost(err)
            return
        if tls is None:  # the connection went away during the handshake
            self.connection_lost(None)
            return
        self.transport = tls
        self.tls_peer_cert = tls.get_extra_info("peercert")
        if not identity_matches(self.tls_peer_cert, self._origin or ""):
            log.warning("%s: certificate %s does not name Origin-Host %s: closing", self.remote[0],
                        certificate_identities(self.tls_peer_cert), self._origin)
            self.abort()
            return
        log.info("%s: in-band TLS up with %s (%s)", self.remote[0], self._origin, tls.get_extra_info("cipher"))
        self._phase = "tls"
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._lost:
            self._lost = True
            super().connection_lost(exc)
