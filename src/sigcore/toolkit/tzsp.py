"""TZSP (TaZmen Sniffer Protocol) encapsulation, and an in-process mirror of Diameter traffic to a collector.

A TZSP datagram is a 4-octet header (version 1, type 0 "received tag list", 2-octet encapsulation: 1 for
Ethernet), tagged fields ended by tag 1 (END), then the captured frame. Wireshark decodes it on UDP 37008,
which is how MikroTik's sniffer and Scratch'n'Sniff stream captures to a workstation.

:class:`TzspMirror` lets a Diameter node show its own messages to a remote Wireshark without root or
libpcap: each message becomes a synthetic Ethernet/IP/TCP segment of a made-up but consistent TCP stream
(handshake, sequence and acknowledgement numbers), so Wireshark reassembles and dissects Diameter.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import socket
import struct
import threading
from dataclasses import dataclass, field

from sigcore.toolkit import frames

TZSP_PORT = 37008
TZSP_VERSION = 1
TYPE_RECEIVED_TAG_LIST = 0
ENCAP_ETHERNET = 1
TAG_PADDING = 0
TAG_END = 1

_HEADER = struct.Struct("!BBH")
_MAX_FLOWS = 4096
_DEFAULT_MSS = 1460

log = logging.getLogger(__name__)


def encode(frame: bytes, encapsulation: int = ENCAP_ETHERNET) -> bytes:
    """Wrap one captured frame in a TZSP datagram with no tags besides END."""
    return _HEADER.pack(TZSP_VERSION, TYPE_RECEIVED_TAG_LIST, encapsulation) + bytes((TAG_END,)) + frame


def decode(datagram: bytes) -> tuple[int, bytes]:
    """Return ``(encapsulation, frame)``, skipping any tagged fields up to END."""
    if len(datagram) < _HEADER.size + 1:
        raise ValueError(f"TZSP datagram too short: {len(datagram)} octets")
    version, _type, encapsulation = _HEADER.unpack_from(datagram)
    if version != TZSP_VERSION:
        raise ValueError(f"unsupported TZSP version {version}")
    offset = _HEADER.size
    while offset < len(datagram):
        tag = datagram[offset]
        if tag == TAG_END:
            return encapsulation, datagram[offset + 1 :]
        if tag == TAG_PADDING:
            offset += 1
            continue
        if offset + 1 >= len(datagram):
            break
        offset += 2 + datagram[offset + 1]
    raise ValueError("TZSP datagram has no END tag")


Endpoint = tuple[str, int]


@dataclass
class _Direction:
    next_seq: int = field(default_factory=lambda: random.getrandbits(32))


@dataclass
class _SyntheticTcpFlow:
    """Sequence state of one made-up TCP connection; ``client`` is whoever spoke first."""

    client: tuple[frames.IPAddress, int]
    server: tuple[frames.IPAddress, int]
    directions: dict[bool, _Direction] = field(
        default_factory=lambda: {True: _Direction(), False: _Direction()})
    ip_id: int = 0

    def _segment(self, from_client: bool, flags: int, payload: bytes = b"") -> bytes:
        (src, sport), (dst, dport) = (self.client, self.server) if from_client else (self.server, self.client)
        mine, theirs = self.directions[from_client], self.directions[not from_client]
        segment = frames.tcp(src, dst, sport, dport, mine.next_seq, theirs.next_seq, flags, payload)
        consumed = len(payload) + (1 if flags & (frames.TCP_SYN | frames.TCP_FIN) else 0)
        mine.next_seq = (mine.next_seq + consumed) & 0xFFFFFFFF
        self.ip_id = (self.ip_id + 1) & 0xFFFF
        packet = frames.ip(src, dst, frames.PROTO_TCP, segment, ident=self.ip_id)
        return frames.ethernet(packet, frames.ethertype_of(src))

    def handshake(self) -> list[bytes]:
        """SYN, SYN-ACK, ACK: lets Wireshark number the stream from 1 and know who the client is."""
        syn = self._segment(True, frames.TCP_SYN)
        syn_ack = self._segment(False, frames.TCP_SYN | frames.TCP_ACK)
        return [syn, syn_ack, self._segment(True, frames.TCP_ACK)]

    def data(self, from_client: bool, payload: bytes, mss: int) -> list[bytes]:
        chunks = [payload[i : i + mss] for i in range(0, len(payload), mss)] or [b""]
        return [self._segment(from_client, frames.TCP_PSH | frames.TCP_ACK, chunk) for chunk in chunks]


def _address(host: str) -> frames.IPAddress:
    address = ipaddress.ip_address(host)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class TzspMirror:
    """Send a copy of every Diameter message to a TZSP collector (e.g. Wireshark on udp/37008).

    ``mirror`` never blocks and never raises: the socket is non-blocking and any failure (unreachable
    collector, full socket buffer, odd address) just counts a drop, because observing traffic must never
    disturb the node carrying it. No root is needed: these are ordinary UDP datagrams.
    """

    def __init__(self, collector_host: str, collector_port: int = TZSP_PORT, mss: int = _DEFAULT_MSS) -> None:
        family, _, _, _, sockaddr = socket.getaddrinfo(collector_host, collector_port,
                                                       type=socket.SOCK_DGRAM)[0]
        self.collector = sockaddr
        self.mss = mss
        self.sent = 0
        self.dropped = 0
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._flows: dict[tuple[Endpoint, Endpoint], _SyntheticTcpFlow] = {}
        self._lock = threading.Lock()

    def mirror(self, payload: bytes, src: Endpoint, dst: Endpoint) -> None:
        """Mirror one message sent from ``src`` to ``dst`` (each ``(ip, port)``)."""
        try:
            with self._lock:
                datagrams = [encode(frame) for frame in self._frames(payload, src, dst)]
            for datagram in datagrams:
                self._sock.sendto(datagram, self.collector)
                self.sent += 1
        except Exception as err:  # observing must never break the node: count and move on
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("TZSP mirror to %s dropped a message (%d so far): %s",
                            self.collector, self.dropped, err)

    def _frames(self, payload: bytes, src: Endpoint, dst: Endpoint) -> list[bytes]:
        src_key, dst_key = (src[0], src[1]), (dst[0], dst[1])
        flow = self._flows.get((src_key, dst_key)) or self._flows.get((dst_key, src_key))
        out: list[bytes] = []
        if flow is None:
            flow = _SyntheticTcpFlow((_address(src[0]), src[1]), (_address(dst[0]), dst[1]))
            if flow.client[0].version != flow.server[0].version:
                raise ValueError(f"cannot mirror between address families: {src} -> {dst}")
            if len(self._flows) >= _MAX_FLOWS:
                self._flows.pop(next(iter(self._flows)))
            self._flows[(src_key, dst_key)] = flow
            out += flow.handshake()
        from_client = (_address(src[0]), src[1]) == flow.client
        return out + flow.data(from_client, payload, self.mss)

    def forget(self, src: Endpoint, dst: Endpoint) -> None:
        """Drop the state of a closed connection so a new one on the same ports starts with a handshake."""
        with self._lock:
            self._flows.pop((src, dst), None)
            self._flows.pop((dst, src), None)

    def close(self) -> None:
        self._sock.close()
