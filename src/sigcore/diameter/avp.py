"""The AVP: code, flags, vendor and the raw payload bytes.

Values stay raw until asked for: a relay re-emits unknown AVPs byte-exact, and a handler pays only for
the AVPs it reads. Typed access goes through the dictionary (``Dictionary.value``).
"""

from __future__ import annotations

from struct import Struct
from typing import Final

from sigcore.diameter.constants import AVP_MANDATORY, AVP_PROTECTED, AVP_VENDOR

_HDR: Final = Struct(">II")
_HDR_V: Final = Struct(">III")
_PAD: Final = (b"", b"\0\0\0", b"\0\0", b"\0")


class Avp:
    """One AVP. ``data`` is the payload without header or padding; for Grouped it holds the children's
    wire bytes. Treat an Avp as immutable: its wire form is cached on first use."""

    __slots__ = ("_wire", "code", "data", "flags", "vendor")
    _wire: bytes

    def __init__(self, code: int, data: bytes, flags: int = AVP_MANDATORY, vendor: int = 0) -> None:
        self.code = code
        self.data = data
        self.vendor = vendor
        self.flags = (flags | AVP_VENDOR) if vendor else (flags & ~AVP_VENDOR)

    @property
    def key(self) -> tuple[int, int]:
        return (self.code, self.vendor)

    @property
    def mandatory(self) -> bool:
        return bool(self.flags & AVP_MANDATORY)

    @property
    def protected(self) -> bool:
        return bool(self.flags & AVP_PROTECTED)

    @property
    def header_len(self) -> int:
        return 12 if self.flags & AVP_VENDOR else 8

    def wire_len(self) -> int:
        """Length on the wire, padding included."""
        n = self.header_len + len(self.data)
        return (n + 3) & ~3

    def to_bytes(self) -> bytes:
        try:
            return self._wire
        except AttributeError:
            pass
        data = self.data
        if self.flags & AVP_VENDOR:
            head = _HDR_V.pack(self.code, (self.flags << 24) | (12 + len(data)), self.vendor)
        else:
            head = _HDR.pack(self.code, (self.flags << 24) | (8 + len(data)))
        wire = self._wire = head + data + _PAD[len(data) & 3]
        return wire

    def children(self) -> list[Avp]:
        """Parse ``data`` as a Grouped AVP's children (raises InvalidAvpLength if malformed)."""
        from sigcore.diameter.message import parse_avps

        return parse_avps(self.data, 0, len(self.data))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Avp):
            return NotImplemented
        return (self.code, self.flags, self.vendor, self.data) == (other.code, other.flags, other.vendor, other.data)

    def __hash__(self) -> int:
        return hash((self.code, self.vendor, self.data))

    def __repr__(self) -> str:
        v = f", vendor={self.vendor}" if self.vendor else ""
        return f"Avp({self.code}{v}, flags=0x{self.flags:02x}, len={len(self.data)})"
