"""The classic libpcap file format: a writer for synthetic traces and a reader for `tcpdump -w -` streams.

Format: a 24-octet global header (magic, version 2.4, snaplen, link type) then records of a 16-octet header
(seconds, microseconds or nanoseconds, captured length, original length) and the packet bytes.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276

_MAGIC_USEC = 0xA1B2C3D4
_MAGIC_NSEC = 0xA1B23C4D
_GLOBAL = "IHHiIII"
_RECORD = "IIII"
#: Records this long are read whatever the header's snap length says (Wireshark's standard maximum)
MAX_RECORD = 262144


@dataclass(frozen=True)
class Packet:
    timestamp: float
    data: bytes
    original_length: int


class PcapWriter:
    """Write Ethernet (or other link type) frames to a pcap file, microsecond timestamps."""

    def __init__(self, stream: IO[bytes], linktype: int = LINKTYPE_ETHERNET, snaplen: int = 262144) -> None:
        self._stream = stream
        stream.write(struct.pack("<" + _GLOBAL, _MAGIC_USEC, 2, 4, 0, 0, snaplen, linktype))

    def write(self, frame: bytes, timestamp: float | None = None) -> None:
        ts = time.time() if timestamp is None else timestamp
        seconds = int(ts)
        micros = round((ts - seconds) * 1_000_000) % 1_000_000
        self._stream.write(struct.pack("<" + _RECORD, seconds, micros, len(frame), len(frame)) + frame)
        self._stream.flush()


class PcapReader:
    """Read a pcap stream incrementally (as `tcpdump -U -w -` produces it), either byte order."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        header = self._read_exactly(24)
        if header is None:
            raise ValueError("empty pcap stream: the capture program ended before writing a header")
        magic = struct.unpack("<I", header[:4])[0]
        if magic in (_MAGIC_USEC, _MAGIC_NSEC):
            self._order = "<"
        else:
            magic = struct.unpack(">I", header[:4])[0]
            if magic not in (_MAGIC_USEC, _MAGIC_NSEC):
                raise ValueError(f"not a pcap stream (magic {header[:4].hex()}); pcapng is not supported")
            self._order = ">"
        self._fraction = 1e-9 if magic == _MAGIC_NSEC else 1e-6
        *_, self.snaplen, self.linktype = struct.unpack(self._order + _GLOBAL, header)

    def _read_exactly(self, size: int) -> bytes | None:
        chunks = bytearray()
        while len(chunks) < size:
            chunk = self._stream.read(size - len(chunks))
            if not chunk:
                if chunks:
                    raise ValueError(f"pcap stream truncated: wanted {size} octets, got {len(chunks)}")
                return None
            chunks += chunk
        return bytes(chunks)

    def __iter__(self) -> Iterator[Packet]:
        while True:
            header = self._read_exactly(16)
            if header is None:
                return
            seconds, fraction, captured, original = struct.unpack(self._order + _RECORD, header)
            if captured > max(self.snaplen, MAX_RECORD):  # a corrupt length: reading it would allocate it
                raise ValueError(f"pcap record of {captured} octets is longer than the snap length {self.snaplen}")
            data = self._read_exactly(captured) or b""
            yield Packet(seconds + fraction * self._fraction, data, original)
