"""Redirect mode (RFC 6733 §6.1.7, §6.13): answer 3006 DIAMETER_REDIRECT_INDICATION naming the peers the
request should go to, instead of relaying it."""

from __future__ import annotations

from sigcore.diameter.answers import Identity, answer
from sigcore.diameter.constants import FLAG_ERROR
from sigcore.diameter.message import Message

REDIRECT_INDICATION = 3006


def diameter_uri(host: str, port: int, transport: str = "tcp") -> str:
    """``aaa://host:port;transport=tcp`` (RFC 6733 §4.3.1); TLS peers are ``aaas://``."""
    scheme = "aaas" if transport.startswith("tls") else "aaa"
    proto = "sctp" if transport == "sctp" else "tcp"
    return f"{scheme}://{host}:{port};transport={proto};protocol=diameter"


def redirect_answer(request: Message, identity: Identity, uris: list[str], max_cache_time: int) -> Message:
    """A 3006 answer (E-bit: a protocol error) with one Redirect-Host per URI, in preference order."""
    avps: list[tuple[str, object]] = [("Redirect-Host", u) for u in uris]
    avps += [("Redirect-Host-Usage", 0), ("Redirect-Max-Cache-Time", max_cache_time)]  # DONT_CACHE
    msg = answer(request, identity, REDIRECT_INDICATION, avps)
    msg.flags |= FLAG_ERROR
    return msg
