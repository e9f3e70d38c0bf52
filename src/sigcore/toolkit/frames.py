"""Synthetic link-layer frames (Ethernet + IPv4/IPv6 + UDP/TCP) with correct checksums.

Used to show locally produced payloads (a GTPv2 message, a Diameter message we sent) to Wireshark as if
captured on the wire: tshark flags bad checksums and lengths, so everything here is computed, never faked.
"""

from __future__ import annotations

import ipaddress
import struct

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
PROTO_TCP = 6
PROTO_UDP = 17

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_PSH = 0x08
TCP_ACK = 0x10

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Locally administered unicast MACs: clearly synthetic, never a real vendor's.
_SRC_MAC = bytes.fromhex("020000000001")
_DST_MAC = bytes.fromhex("020000000002")


def internet_checksum(data: bytes) -> int:
    """RFC 1071 ones' complement sum of 16-bit words."""
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ethernet(payload: bytes, ethertype: int, src_mac: bytes = _SRC_MAC, dst_mac: bytes = _DST_MAC) -> bytes:
    return dst_mac + src_mac + struct.pack("!H", ethertype) + payload


def _pseudo_header(src: IPAddress, dst: IPAddress, proto: int, length: int) -> bytes:
    if src.version == 4:
        return src.packed + dst.packed + struct.pack("!BBH", 0, proto, length)
    return src.packed + dst.packed + struct.pack("!IxxxB", length, proto)


def udp(src: IPAddress, dst: IPAddress, sport: int, dport: int, payload: bytes) -> bytes:
    length = 8 + len(payload)
    header = struct.pack("!HHHH", sport, dport, length, 0)
    checksum = internet_checksum(_pseudo_header(src, dst, PROTO_UDP, length) + header + payload) or 0xFFFF
    return struct.pack("!HHHH", sport, dport, length, checksum) + payload


def tcp(src: IPAddress, dst: IPAddress, sport: int, dport: int, seq: int, ack: int, flags: int,
        payload: bytes = b"", window: int = 65535) -> bytes:
    """A TCP segment with a 20-octet header (no options)."""
    header = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, window, 0, 0)
    segment = header + payload
    checksum = internet_checksum(_pseudo_header(src, dst, PROTO_TCP, len(segment)) + segment)
    return segment[:16] + struct.pack("!H", checksum) + segment[18:]


def ip(src: IPAddress, dst: IPAddress, proto: int, payload: bytes, ident: int = 0) -> bytes:
    """An IPv4 (no options, DF set) or IPv6 header in front of ``payload``."""
    if src.version != dst.version:
        raise ValueError(f"mixed address families: {src} -> {dst}")
    if src.version == 4:
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF, 0x4000, 64,
                             proto, 0, src.packed, dst.packed)
        checksum = internet_checksum(header)
        return header[:10] + struct.pack("!H", checksum) + header[12:] + payload
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), proto, 64, src.packed, dst.packed) + payload


def ethertype_of(address: IPAddress) -> int:
    return ETHERTYPE_IPV4 if address.version == 4 else ETHERTYPE_IPV6


def udp_frame(src: tuple[str, int], dst: tuple[str, int], payload: bytes) -> bytes:
    """A complete Ethernet frame carrying ``payload`` in UDP from ``src`` to ``dst`` (host, port)."""
    src_ip, dst_ip = ipaddress.ip_address(src[0]), ipaddress.ip_address(dst[0])
    datagram = udp(src_ip, dst_ip, src[1], dst[1], payload)
    return ethernet(ip(src_ip, dst_ip, PROTO_UDP, datagram), ethertype_of(src_ip))
