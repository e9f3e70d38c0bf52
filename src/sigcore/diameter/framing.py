"""Split a byte stream into Diameter messages using the header's length field.

A message split across reads is reassembled; several messages in one read are all returned.
A header whose length cannot be trusted (< 20 or absurdly large) makes the stream unrecoverable:
``FramingError`` carries the 20 header bytes so the node can still answer 5015 before closing.
"""

from __future__ import annotations

from struct import Struct

from sigcore.diameter.constants import HEADER_LEN, MAX_MESSAGE_LEN

_LENGTH = Struct(">I")  # version and message length: the length is the low 24 bits


class FramingError(Exception):
    def __init__(self, reason: str, header: bytes) -> None:
        super().__init__(reason)
        self.header = header


class Framer:
    __slots__ = ("_buf", "max_len")

    def __init__(self, max_len: int = MAX_MESSAGE_LEN) -> None:
        self._buf = bytearray()
        self.max_len = max_len

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        """Append ``data``; return every complete message now available, oldest first.

        Every read passes here: when nothing is buffered (a read that ends on a message boundary, the
        usual case) the messages are sliced from ``data`` itself, one copy each (none for a read that is
        exactly one message); only a partial message's bytes are kept. A message arriving in many reads is
        copied out once, when it is complete."""
        buf = self._buf
        if buf:
            buf += data
            if len(buf) < HEADER_LEN:
                return []
            length = _LENGTH.unpack_from(buf)[0] & 0xFFFFFF
            if HEADER_LEN <= length <= self.max_len and len(buf) < length:
                return []  # still waiting for the rest of it
            data = bytes(buf)
            buf.clear()
        frames: list[bytes] = []
        off = 0
        n = len(data)
        unpack_from = _LENGTH.unpack_from
        while n - off >= HEADER_LEN:
            length = unpack_from(data, off)[0] & 0xFFFFFF
            if length < HEADER_LEN or length > self.max_len:
                raise FramingError(f"message length {length} cannot be framed", bytes(data[off:off + HEADER_LEN]))
            if n - off < length:
                break
            frames.append(data[off:off + length])
            off += length
        if off < n:
            buf += memoryview(data)[off:]
        return frames
