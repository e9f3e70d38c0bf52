"""Diameter messages: the 20-byte header and a flat list of top-level AVPs.

Decoding parses the header and the top-level AVP headers only; Grouped payloads and values are parsed
when asked for. ``peek_header`` reads routing facts from raw bytes without building anything.
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from array import array
from collections.abc import Iterable, Iterator
from struct import Struct
from typing import Any, Final, NamedTuple, TypeAlias

from sigcore.diameter.avp import Avp
from sigcore.diameter.constants import (
    AVP_VENDOR,
    FLAG_ERROR,
    FLAG_PROXIABLE,
    FLAG_REQUEST,
    FLAG_RETRANSMIT,
    HEADER_LEN,
    VERSION,
    ResultCode,
)
from sigcore.diameter.errors import DecodeError

_HEADER: Final = Struct(">I4I")  # version|length, flags|code, app id, hop-by-hop, end-to-end
_U32X2: Final = Struct(">II")
_U32: Final = Struct(">I")
_ZERO_PAD: Final = (b"", b"\0\0\0", b"\0\0", b"\0")
_UNCHECKED: Final = object()  # Message.fault of a message whose CCF check has not run


class Header(NamedTuple):
    version: int
    length: int
    flags: int
    code: int
    app_id: int
    hop_by_hop: int
    end_to_end: int

    @property
    def is_request(self) -> bool:
        return bool(self.flags & FLAG_REQUEST)


def peek_header(buf: bytes | bytearray | memoryview, offset: int = 0) -> Header:
    """Read the header at ``offset`` (at least 20 bytes must be there)."""
    vl, fc, app, hbh, e2e = _HEADER.unpack_from(buf, offset)
    return Header(vl >> 24, vl & 0xFFFFFF, fc >> 24, fc & 0xFFFFFF, app, hbh, e2e)


Words: TypeAlias = "array[int]"  # a buffer as unsigned 32-bit big-endian words, see words_of
_WORD_TYPE: Final = "I" if array("I").itemsize == 4 else "L"
_SWAP: Final = sys.byteorder == "little"


_SLACK: Final = bytes(12)


def words_of(buf: bytes) -> Words:
    """``buf`` (a length that is a multiple of 4, as every message is) as a list-like of its big-endian
    32-bit words: the loops that walk AVP headers read them by index, several times cheaper in CPython than
    a ``struct.unpack_from`` call per header. Three zero words follow the buffer's own, so reading an AVP
    header (up to three words) never runs past the array, even for a truncated AVP at the very end: the
    loop needs no bounds check per AVP, and the length check after the read catches the truncation."""
    words = array(_WORD_TYPE, buf)
    if _SWAP:
        words.byteswap()
    words.frombytes(_SLACK)
    return words


def checked_header(buf: bytes) -> tuple[int, int, int, int, int]:
    """The header words of the whole message ``buf`` (version|length, flags|code, application, hop-by-hop,
    end-to-end), after the checks ``Message.decode`` makes (5011, 5015). No Header tuple is built unless
    an error answer needs one."""
    n = len(buf)
    if n < HEADER_LEN:
        raise DecodeError(ResultCode.INVALID_MESSAGE_LENGTH, f"{n} octets is shorter than a header", fatal=True)
    words = _HEADER.unpack_from(buf)
    version_len = words[0]
    if version_len >> 24 != VERSION:
        raise DecodeError(ResultCode.UNSUPPORTED_VERSION, f"version {version_len >> 24}", header=peek_header(buf))
    if version_len & 0xFFFFFF != n:
        raise DecodeError(ResultCode.INVALID_MESSAGE_LENGTH,
                          f"header says {version_len & 0xFFFFFF} octets, message has {n}", header=peek_header(buf))
    if n & 3:  # RFC 6733 §3: the length always includes padding, so it is a multiple of 4
        raise DecodeError(ResultCode.INVALID_MESSAGE_LENGTH, f"message length {n} is not a multiple of 4",
                          header=peek_header(buf))
    return words


def _failed_header(buf: bytes, off: int, end: int) -> Avp:
    """The offending AVP's header, zero-padded where it was cut short, with a zero-filled payload of the
    minimum length for its type (empty for Grouped or unknown AVPs): RFC 6733 §7.1.5, 5014."""
    from sigcore.diameter.dictionary import DICTIONARY

    head = bytes(buf[off:min(end, off + 12)]).ljust(8, b"\0")
    code, flags_len = _U32X2.unpack_from(head)
    flags = flags_len >> 24
    vendor = _U32.unpack_from(head.ljust(12, b"\0"), 8)[0] if flags & AVP_VENDOR else 0
    known = DICTIONARY.avps.get((code, vendor))
    avp = Avp(code, known.example().data if known is not None else b"", flags, vendor)
    avp.flags = flags  # keep a V-bit whose vendor id was cut off (it reads as vendor 0)
    return avp


def parse_avps(buf: bytes, off: int, end: int) -> list[Avp]:
    """Parse the AVP headers in ``buf[off:end]``; payloads are sliced, not decoded."""
    avps: list[Avp] = []
    append = avps.append
    unpack_from = _U32X2.unpack_from
    new = Avp.__new__
    while off < end:
        if end - off < 8:
            raise DecodeError(ResultCode.INVALID_AVP_LENGTH, "truncated AVP header",
                              [_failed_header(buf, off, end)])
        code, flags_len = unpack_from(buf, off)
        flags = flags_len >> 24
        length = flags_len & 0xFFFFFF
        if flags & AVP_VENDOR:
            hl = 12
            if end - off < 12:
                raise DecodeError(ResultCode.INVALID_AVP_LENGTH, "truncated vendor AVP header",
                                  [_failed_header(buf, off, end)])
            vendor = unpack_from(buf, off + 4)[1]
        else:
            hl = 8
            vendor = 0
        if length < hl or off + length > end:
            raise DecodeError(ResultCode.INVALID_AVP_LENGTH,
                              f"AVP {code} length {length} does not fit (offset {off})",
                              [_failed_header(buf, off, end)])
        avp = new(Avp)
        avp.code = code
        avp.flags = flags
        avp.vendor = vendor
        avp.data = buf[off + hl:off + length]
        append(avp)
        off += (length + 3) & ~3
    return avps


def encode_avps(avps: Iterable[Avp]) -> bytes:
    return b"".join([a.to_bytes() for a in avps])


_hop_by_hop = itertools.count(int.from_bytes(os.urandom(4), "big"))
# RFC 6733 §3: End-to-End ids start with the low 12 bits of the start-up time in the high 12 bits and a
# random low 20 bits, then increase, so they stay unique across restarts for a long time.
_end_to_end = itertools.count(((int(time.time()) & 0xFFF) << 20) | int.from_bytes(os.urandom(3), "big") & 0xFFFFF)


def next_hop_by_hop() -> int:
    return next(_hop_by_hop) & 0xFFFFFFFF


def new_end_to_end() -> int:
    return next(_end_to_end) & 0xFFFFFFFF


class Message:
    """A Diameter message. ``avps`` is the ordered list of top-level AVPs."""

    __slots__ = ("_avps", "_body", "app_id", "code", "end_to_end", "fault", "flags", "hop_by_hop", "raw")

    def __init__(
        self,
        code: int,
        app_id: int = 0,
        flags: int = FLAG_REQUEST | FLAG_PROXIABLE,
        hop_by_hop: int = 0,
        end_to_end: int = 0,
        avps: list[Avp] | None = None,
        body: bytes | None = None,
    ) -> None:
        """``body`` is the AVPs already encoded (the fast path for answers built straight to bytes); the
        ``avps`` list is then parsed from it only if someone asks for it."""
        self.code = code
        self.app_id = app_id
        self.flags = flags
        self.hop_by_hop = hop_by_hop
        self.end_to_end = end_to_end
        self._avps: list[Avp] | None = avps if avps is not None else ([] if body is None else None)
        self._body = body if avps is None else None
        self.raw: bytes | None = None  # the bytes it was decoded from; None once built or changed here
        # What the CCF check made of ``raw`` while decoding (`Dictionary.decode_checked`): _UNCHECKED, None
        # (valid) or the DiameterError `Dictionary.validate` raises after the delivery checks
        self.fault: Any = _UNCHECKED

    @classmethod
    def from_body(cls, code: int, app_id: int, flags: int, hop_by_hop: int, end_to_end: int,
                  body: bytes) -> Message:
        """``Message(..., body=body)`` without the argument juggling: every answer is built this way."""
        msg = cls.__new__(cls)
        msg.code = code
        msg.app_id = app_id
        msg.flags = flags
        msg.hop_by_hop = hop_by_hop
        msg.end_to_end = end_to_end
        msg._avps = None
        msg._body = body
        msg.raw = None
        msg.fault = _UNCHECKED
        return msg

    @property
    def avps(self) -> list[Avp]:
        avps = self._avps
        if avps is None:
            body = self._body or b""
            avps = self._avps = parse_avps(body, 0, len(body))
            self._body = None
        return avps

    @avps.setter
    def avps(self, value: list[Avp]) -> None:
        """A new AVP list: the message is no longer the bytes it was decoded from (``raw``), so a later
        `Dictionary.validate` checks the new list. (A list changed in place is the changer's business.)"""
        self._avps = value
        self._body = None
        self.raw = None
        self.fault = _UNCHECKED

    # --- flags -------------------------------------------------------------------------------
    @property
    def is_request(self) -> bool:
        return bool(self.flags & FLAG_REQUEST)

    @property
    def is_error(self) -> bool:
        return bool(self.flags & FLAG_ERROR)

    @property
    def is_proxiable(self) -> bool:
        return bool(self.flags & FLAG_PROXIABLE)

    @property
    def is_retransmit(self) -> bool:
        return bool(self.flags & FLAG_RETRANSMIT)

    # --- wire --------------------------------------------------------------------------------
    @classmethod
    def decode(cls, buf: bytes) -> Message:
        """Decode one whole message (exactly ``len(buf)`` bytes, as framed by the length field)."""
        _, flags_code, app_id, hop_by_hop, end_to_end = checked_header(buf)
        n = len(buf)
        try:
            avps = parse_avps(buf, HEADER_LEN, n)
        except DecodeError as err:
            err.header = peek_header(buf)
            raise
        return cls.received(buf, flags_code, app_id, hop_by_hop, end_to_end, avps)

    @classmethod
    def received(cls, buf: bytes, flags_code: int, app_id: int, hop_by_hop: int, end_to_end: int,
                 avps: list[Avp], fault: Any = _UNCHECKED) -> Message:
        """The message decoded from ``buf``: its header words, its top-level AVPs, and what the CCF check
        found if it ran while decoding (`Dictionary.decode_checked`)."""
        msg = cls.from_body(flags_code & 0xFFFFFF, app_id, flags_code >> 24, hop_by_hop, end_to_end, b"")
        msg._avps = avps
        msg._body = None
        msg.raw = buf
        msg.fault = fault
        return msg

    def encode(self) -> bytes:
        avps = self._avps
        body = (self._body or b"") if avps is None else b"".join([a.to_bytes() for a in avps])
        return _HEADER.pack(
            (VERSION << 24) | (HEADER_LEN + len(body)),
            (self.flags << 24) | self.code,
            self.app_id,
            self.hop_by_hop,
            self.end_to_end,
        ) + body

    # --- AVP access (by code/vendor; name-based access lives in the dictionary) --------------
    def find(self, code: int, vendor: int = 0) -> Avp | None:
        for a in self.avps:
            if a.code == code and a.vendor == vendor:
                return a
        return None

    def find_all(self, code: int, vendor: int = 0) -> Iterator[Avp]:
        return (a for a in self.avps if a.code == code and a.vendor == vendor)

    def __getitem__(self, name: str) -> Any:
        """``msg["Origin-Host"]``: the first value of that AVP, KeyError if absent."""
        from sigcore.diameter.dictionary import DICTIONARY

        return DICTIONARY.get_value(self.avps, name)

    def get(self, name: str, default: Any = None) -> Any:
        from sigcore.diameter.dictionary import DICTIONARY

        return DICTIONARY.get_value(self.avps, name, default)

    def __repr__(self) -> str:
        kind = "request" if self.is_request else "answer"
        return (f"Message(code={self.code}, app={self.app_id}, {kind}, flags=0x{self.flags:02x}, "
                f"hbh=0x{self.hop_by_hop:08x}, avps={len(self.avps)})")
