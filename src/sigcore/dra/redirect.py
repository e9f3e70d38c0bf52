"""Redirect mode (RFC 6733 §6.1.7, §6.13): answer 3006 DIAMETER_REDIRECT_INDICATION naming the peers the
request should go to, instead of relaying it."""

from __future__ import annotations

from sigcore.diameter.application import Rejected
from sigcore.diameter.dictionary import DICTIONARY as D

REDIRECT_INDICATION = 3006


def diameter_uri(host: str, port: int, transport: str = "tcp") -> str:
    """``aaa://host:port;transport=tcp`` (RFC 6733 §4.3.1); TLS peers are ``aaas://``."""
    scheme = "aaas" if transport.startswith("tls") else "aaa"
    proto = "sctp" if transport == "sctp" else "tcp"
    return f"{scheme}://{host}:{port};transport={proto};protocol=diameter"


def redirect_rejection(uris: list[str], max_cache_time: int) -> Rejected:
    """The 3006 answer (E-bit: a protocol error) with one Redirect-Host per URI, in preference order."""
    avps = [D.build("Redirect-Host", u) for u in uris]
    avps += [D.build("Redirect-Host-Usage", 0), D.build("Redirect-Max-Cache-Time", max_cache_time)]  # DONT_CACHE
    return Rejected(REDIRECT_INDICATION, "redirected", avps=avps)
