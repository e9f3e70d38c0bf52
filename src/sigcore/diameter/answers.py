"""Building answers: the common AVPs every answer carries, and error answers from DiameterError."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sigcore.diameter.avp import Avp
from sigcore.diameter.constants import FLAG_ERROR, FLAG_PROXIABLE, FLAG_REQUEST, VENDOR_3GPP
from sigcore.diameter.dictionary import DICTIONARY
from sigcore.diameter.errors import DiameterError
from sigcore.diameter.message import Header, Message

_D = DICTIONARY
_SESSION_ID = _D.avp("Session-Id").key
_PROXY_INFO = _D.avp("Proxy-Info").key


@dataclass(slots=True)
class Identity:
    """Who we are on the Diameter network (the Origin-* of everything we send)."""

    origin_host: str
    origin_realm: str
    host_ip_addresses: list[str] = field(default_factory=lambda: ["127.0.0.1"])
    vendor_id: int = 0
    product_name: str = "sigcore"
    firmware_revision: int = 1
    origin_state_id: int = 1
    origin_avps: list[Avp] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.origin_avps = [_D.build("Origin-Host", self.origin_host), _D.build("Origin-Realm", self.origin_realm)]


def answer(request: Message | Header, identity: Identity, result_code: int | None = None,
           avps: list[Any] | None = None, *, experimental: tuple[int, int] | None = None,
           error_message: str | None = None, failed_avps: list[Avp] | None = None) -> Message:
    """An answer to ``request``: Session-Id first, then ``avps`` (Avp objects or (name, value) pairs),
    Result-Code or Experimental-Result, Origin-Host/Realm, Error-Message, Failed-AVP and the request's
    Proxy-Info. Built straight to bytes.

    ``experimental`` is (vendor, code), e.g. (10415, 5001) for DIAMETER_ERROR_USER_UNKNOWN.
    """
    parts: list[Any] = []
    req_avps: list[Avp] = [] if isinstance(request, Header) else request.avps
    for a in req_avps:
        if (a.code, a.vendor) == _SESSION_ID:
            parts.append(a)
            break
    if avps:
        parts.extend(avps)
    if result_code is not None:
        parts.append(("Result-Code", result_code))
    if experimental is not None:
        parts.append(("Experimental-Result", [("Vendor-Id", experimental[0]),
                                              ("Experimental-Result-Code", experimental[1])]))
    parts.extend(identity.origin_avps)
    if error_message:
        parts.append(("Error-Message", error_message))
    for f in failed_avps or ():
        parts.append(("Failed-AVP", [f]))
    parts.extend(a for a in req_avps if (a.code, a.vendor) == _PROXY_INFO)
    return _D.message(request.code, request.app_id, request.flags & FLAG_PROXIABLE, parts,
                      request.hop_by_hop, request.end_to_end)


def error_answer(request: Message | Header, identity: Identity, err: DiameterError,
                 default_avps: Sequence[Any] = ()) -> Message:
    """The answer RFC 6733 §7 prescribes for ``err``: E-bit for protocol errors (3xxx); an Experimental-Result
    instead of the Result-Code when ``err.experimental`` is set. ``default_avps`` (the application's, e.g.
    Auth-Session-State) go in unless ``err`` brings its own ``answer_avps``."""
    experimental = err.experimental
    extra = list(err.answer_avps or default_avps)
    msg = answer(request, identity, None if experimental else err.result_code, extra or None,
                 experimental=experimental, error_message=err.error_message, failed_avps=err.failed_avps)
    if err.is_protocol_error:
        msg.flags |= FLAG_ERROR
    return msg


def result_of(msg: Message) -> int | None:
    """Result-Code, or the Experimental-Result-Code when only that is present."""
    rc = msg.get("Result-Code")
    if rc is not None:
        return int(rc)
    exp = msg.get("Experimental-Result")
    if exp is not None:
        return int(exp.get("Experimental-Result-Code", 0))
    return None


def request(code: int, app_id: int, avps: list[Avp], *, proxiable: bool = True) -> Message:
    flags = FLAG_REQUEST | (FLAG_PROXIABLE if proxiable else 0)
    return Message(code, app_id, flags, 0, 0, avps)


def build(name: str, value: Any) -> Avp:
    return _D.build(name, value)


__all__ = ["VENDOR_3GPP", "Identity", "answer", "build", "error_answer", "request", "result_of"]
