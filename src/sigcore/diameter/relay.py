"""The relay's byte-level tools (RFC 6733 §6): what a Diameter agent needs from a message it forwards, read
and changed on the bytes themselves, with no dictionary and no decode.

A relayed message is its received bytes in a ``bytearray``; its top-level AVPs are found by walking their
headers only, the hop-by-hop id is rewritten in place and a Route-Record is appended as bytes. Unknown
applications, commands and AVPs pass through byte-exact.
"""

from __future__ import annotations

from collections.abc import Iterator
from struct import Struct
from typing import Final

from sigcore.diameter.constants import AVP_MANDATORY, AVP_VENDOR, FLAG_RETRANSMIT, HEADER_LEN

_U32: Final = Struct(">I")
_U32X2: Final = Struct(">II")
_U32X3: Final = Struct(">III")

# RFC 6733 base AVP codes (vendor 0) the relay reads
SESSION_ID: Final = 263
ORIGIN_HOST: Final = 264
RESULT_CODE: Final = 268
ROUTE_RECORD: Final = 282
DESTINATION_REALM: Final = 283
DESTINATION_HOST: Final = 293
REDIRECT_HOST: Final = 292
_ROUTING_CODES: Final = frozenset({DESTINATION_REALM, DESTINATION_HOST, ROUTE_RECORD})

try:  # the compiled reads (optional: without a C compiler the plain walks below do the same)
    from sigcore.diameter import _speedups
except ImportError:  # pragma: no cover - depends on the build
    _speedups = None  # type: ignore[assignment]
_relay_facts = _speedups.relay_facts if _speedups is not None else None
_result_code = _speedups.result_code if _speedups is not None else None


def identity_avp(code: int, identity: str) -> bytes:
    """A vendor-0, M-flagged DiameterIdentity AVP (Route-Record, Redirect-Host...) as padded bytes."""
    value = identity.encode()
    length = 8 + len(value)
    return _U32X2.pack(code, AVP_MANDATORY << 24 | length) + value + b"\0" * (-length & 3)


def base_avps(buf: bytes | bytearray, codes: frozenset[int]) -> dict[int, list[bytes]]:
    """The payloads of the top-level vendor-0 AVPs of ``buf`` whose code is in ``codes``, in order.
    Raises ValueError if an AVP header does not fit the message."""
    out: dict[int, list[bytes]] = {}
    for code, vendor, start, end, _ in walk(buf):
        if vendor == 0 and code in codes:
            out.setdefault(code, []).append(bytes(buf[start:end]))
    return out


def _avp_header(buf: bytes | bytearray, off: int, end: int) -> tuple[int, int, int]:
    """(code, flags|length word, length) of the AVP at ``off``; ValueError if its header is cut short."""
    if end - off < 8:
        raise ValueError(f"truncated AVP header at offset {off}")
    code, flags_len = _U32X2.unpack_from(buf, off)
    return code, flags_len, flags_len & 0xFFFFFF


def walk(buf: bytes | bytearray, off: int = HEADER_LEN,
         end: int | None = None) -> Iterator[tuple[int, int, int, int, int]]:
    """(code, vendor, payload start, payload end, next AVP offset) for each AVP in ``buf[off:end]``."""
    end = len(buf) if end is None else end
    while off < end:
        code, flags_len, length = _avp_header(buf, off, end)
        if flags_len >> 24 & AVP_VENDOR:
            if end - off < 12:
                raise ValueError(f"truncated AVP header at offset {off}")
            vendor = _U32.unpack_from(buf, off + 8)[0]
            head = 12
        else:
            vendor, head = 0, 8
        if length < head or off + length > end:
            raise ValueError(f"AVP {code} length {length} does not fit (offset {off})")
        nxt = off + ((length + 3) & ~3)
        yield code, vendor, off + head, off + length, nxt
        off = nxt


class Routing:
    """The routing facts of one request, read in one walk over its top-level AVP headers: Destination-Host,
    Destination-Realm (lower-cased text, or None) and whether ``own`` (lower-cased) is in a Route-Record.
    Raises ValueError when the AVP headers do not fit the message.

    Every relayed request is read here: the compiled walk (`sigcore.diameter._speedups.relay_facts`) does
    it where it was built; `read_plain` is the same in Python, the fallback and the reference the tests
    compare it with (tests/diameter/test_relay_speedups.py)."""

    __slots__ = ("destination_host", "destination_realm", "looped")

    def __init__(self, buf: bytes | bytearray, own: bytes) -> None:
        facts = _relay_facts(buf, own) if _relay_facts is not None else None
        if facts is None:
            self.read_plain(buf, own)
            return
        host, realm, self.looped = facts
        self.destination_host = host.decode("utf-8", "replace").lower() if host is not None else None
        self.destination_realm = realm.decode("utf-8", "replace").lower() if realm is not None else None

    def read_plain(self, buf: bytes | bytearray, own: bytes) -> None:
        self.destination_host = None
        self.destination_realm = None
        self.looped = False
        for code, vendor, start, end, _ in walk(buf):
            if vendor == 0 and code in _ROUTING_CODES:
                value = bytes(buf[start:end])
                if code == DESTINATION_REALM:
                    self.destination_realm = value.decode("utf-8", "replace").lower()
                elif code == DESTINATION_HOST:
                    self.destination_host = value.decode("utf-8", "replace").lower()
                elif value.lower() == own:
                    self.looped = True

    def copy(self) -> Routing:
        """The same facts (a forward hook that changed a request but none of them hands the node this)."""
        other = Routing.__new__(Routing)
        other.destination_host = self.destination_host
        other.destination_realm = self.destination_realm
        other.looped = self.looped
        return other


def result_code(buf: bytes | bytearray) -> int | None:
    """The top-level Result-Code of an answer, or None (read for every relayed answer: compiled where it
    was built, as `Routing`). Raises ValueError if an AVP header before it does not fit the message."""
    if _result_code is not None:
        rc = _result_code(buf)
        if rc is not False:
            return rc
    return result_code_plain(buf)


def result_code_plain(buf: bytes | bytearray) -> int | None:
    for code, vendor, start, end, _ in walk(buf):
        if code == RESULT_CODE and vendor == 0 and end - start == 4:
            value: int = _U32.unpack_from(buf, start)[0]
            return value
    return None


def forwarded(frame: bytes | bytearray, hop_by_hop: int, route_record: bytes) -> bytearray:
    """``frame`` with ``route_record`` appended, its length and hop-by-hop id set."""
    out = bytearray(frame)
    out += route_record
    _U32.pack_into(out, 0, 0x01000000 | len(out))
    _U32.pack_into(out, 12, hop_by_hop)
    return out


def set_hop_by_hop(buf: bytearray, hop_by_hop: int) -> None:
    _U32.pack_into(buf, 12, hop_by_hop)


def mark_retransmit(buf: bytearray) -> None:
    """Set the T-flag (RFC 6733 §5.5.4): the request is sent again, after a failover."""
    buf[4] |= FLAG_RETRANSMIT


def resized(buf: bytearray) -> None:
    """Fix the message length field after the caller changed the body."""
    _U32.pack_into(buf, 0, 0x01000000 | len(buf))


__all__ = ["Routing", "base_avps", "forwarded", "identity_avp", "mark_retransmit", "resized", "result_code",
           "set_hop_by_hop", "walk"]
