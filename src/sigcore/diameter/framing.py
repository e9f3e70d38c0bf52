"""Split a byte stream into Diameter messages using the header's length field.

A message split across reads is reassembled; several messages in one read are all returned.
A header whose length cannot be trusted (< 20 or absurdly large) makes the stream unrecoverable:
``FramingError`` carries the 20 header bytes so the node can still answer 5015 before closing.
"""

from __future__ import annotations

from sigcore.diameter.constants import HEADER_LEN, MAX_MESSAGE_LEN


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
        """Append ``data``; return every complete message now available, oldest first."""
        buf = self._buf
        buf += data
        frames: list[bytes] = []
        off = 0
        n = len(buf)
        while n - off >= HEADER_LEN:
            length = int.from_bytes(buf[off + 1:off + 4], "big")
            if length < HEADER_LEN or length > self.max_len:
                header = bytes(buf[off:off + HEADER_LEN])
                del buf[:]
                raise FramingError(f"message length {length} cannot be framed", header)
            if n - off < length:
                break
            frames.append(bytes(buf[off:off + length]))
            off += length
        if off:
            del buf[:off]
        return frames
