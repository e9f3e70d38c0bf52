"""Linux SCTP socket options with the standard library only (``socket`` + ``struct``).

The numbers and struct layouts are those of ``<linux/sctp.h>`` (RFC 6458 names). Python's ``socket``
module exposes ``IPPROTO_SCTP`` but none of the SCTP options, so they are spelled out here once. Every
structure the kernel declares ``packed, aligned(4)`` is packed with ``=`` (no padding) and padded by hand.
Why not pysctp: see docs/transports.md ("Library choice").
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import socket
import struct
from dataclasses import dataclass

SOL_SCTP = socket.IPPROTO_SCTP if hasattr(socket, "IPPROTO_SCTP") else 132
DIAMETER_PPID = 46  # IANA SCTP payload protocol identifier for Diameter (RFC 6733 §2.1.1)

# setsockopt / getsockopt names (linux/sctp.h)
SCTP_RTOINFO = 0
SCTP_INITMSG = 2
SCTP_NODELAY = 3
SCTP_PRIMARY_ADDR = 6
SCTP_PEER_ADDR_PARAMS = 9
SCTP_EVENTS = 11
SCTP_STATUS = 14
SCTP_RECVRCVINFO = 32
SCTP_DEFAULT_SNDINFO = 34
SCTP_SOCKOPT_BINDX_ADD = 100
SCTP_GET_PEER_ADDRS = 108
SCTP_GET_LOCAL_ADDRS = 109

# ancillary data (cmsg) types
SCTP_SNDINFO = 2
SCTP_RCVINFO = 3

MSG_NOTIFICATION = 0x8000
MSG_EOR = getattr(socket, "MSG_EOR", 0x80)

# notification types (enum sctp_sn_type)
SCTP_ASSOC_CHANGE = 0x8001
SCTP_PEER_ADDR_CHANGE = 0x8002
SCTP_SEND_FAILED = 0x8003
SCTP_REMOTE_ERROR = 0x8004
SCTP_SHUTDOWN_EVENT = 0x8005

PEER_ADDR_STATES = {0: "AVAILABLE", 1: "UNREACHABLE", 2: "REMOVED", 3: "ADDED", 4: "MADE_PRIMARY",
                    5: "CONFIRMED", 6: "POTENTIALLY_FAILED"}
ASSOC_STATES = {0: "COMM_UP", 1: "COMM_LOST", 2: "RESTART", 3: "SHUTDOWN_COMP", 4: "CANT_STR_ASSOC"}

_SOCKADDR_STORAGE = 128
_SNDINFO = struct.Struct("=HHIIi")  # sid, flags, ppid, context, assoc_id
_RCVINFO = struct.Struct("@HHHIIIIi")  # sid, ssn, flags, (pad), ppid, tsn, cumtsn, context, assoc_id
_INITMSG = struct.Struct("=HHHH")  # num_ostreams, max_instreams, max_attempts, max_init_timeo
_RTOINFO = struct.Struct("=iIII")  # assoc_id, initial, max, min (ms)
_PADDRPARAMS = struct.Struct(f"=i{_SOCKADDR_STORAGE}sIHIII")  # .. hbinterval, pathmaxrxt, pathmtu, sackdelay, flags
_PADDRPARAMS_LEN = 152  # ALIGN(offsetof(spp_ipv6_flowlabel), 4): the length the kernel accepts besides the full one
_STATUS = struct.Struct(f"=iiIHHHHIi{_SOCKADDR_STORAGE}siIIII")
SPP_HB_ENABLE = 1


def is_supported() -> tuple[bool, str]:
    """Whether this kernel can create an SCTP one-to-one socket, and why not."""
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, SOL_SCTP).close()
    except OSError as err:
        return False, f"this kernel has no SCTP ({err.strerror}); run through ../shared/tools/sctp-vm"
    return True, ""


def pack_sockaddr(host: str, port: int) -> bytes:
    """A ``struct sockaddr_in`` / ``sockaddr_in6`` as the kernel's SCTP options take it."""
    ip = ipaddress.ip_address(host)
    if ip.version == 4:
        return struct.pack("=H", socket.AF_INET) + struct.pack("!H", port) + ip.packed + bytes(8)
    return struct.pack("=H", socket.AF_INET6) + struct.pack("!HI", port, 0) + ip.packed + struct.pack("=I", 0)


def unpack_sockaddr(data: bytes) -> tuple[tuple[str, int], int]:
    """(address, port) from a packed sockaddr, and the length it used."""
    family = struct.unpack_from("=H", data)[0]
    if family == socket.AF_INET:
        port = struct.unpack_from("!H", data, 2)[0]
        return (socket.inet_ntop(socket.AF_INET, data[4:8]), port), 16
    if family == socket.AF_INET6:
        port = struct.unpack_from("!H", data, 2)[0]
        return (socket.inet_ntop(socket.AF_INET6, data[8:24]), port), 28
    raise ValueError(f"unknown address family {family}")


def _storage(host: str, port: int) -> bytes:
    return pack_sockaddr(host, port).ljust(_SOCKADDR_STORAGE, b"\0")


def bind_addresses(sock: socket.socket, addresses: list[str], port: int) -> None:
    """bind() the first address, then sctp_bindx(SCTP_BINDX_ADD_ADDR) the others on the same port."""
    sock.bind((addresses[0], port))
    port = sock.getsockname()[1]  # port 0: every address shares the one the kernel picked
    extra = b"".join(pack_sockaddr(a, port) for a in addresses[1:])
    if extra:
        sock.setsockopt(SOL_SCTP, SCTP_SOCKOPT_BINDX_ADD, extra)


def set_streams(sock: socket.socket, outbound: int, inbound: int) -> None:
    """Streams requested in INIT (the association gets the minimum of both sides' numbers)."""
    sock.setsockopt(SOL_SCTP, SCTP_INITMSG, _INITMSG.pack(outbound, inbound, 0, 0))


def set_rto(sock: socket.socket, initial_ms: int, min_ms: int, max_ms: int) -> None:
    sock.setsockopt(SOL_SCTP, SCTP_RTOINFO, _RTOINFO.pack(0, initial_ms, max_ms, min_ms))


def set_path_params(sock: socket.socket, path_max_retrans: int, heartbeat_ms: int) -> None:
    """Endpoint defaults for every path: retransmissions before a path is declared down, heartbeat period."""
    data = _PADDRPARAMS.pack(0, bytes(_SOCKADDR_STORAGE), heartbeat_ms, path_max_retrans, 0, 0, SPP_HB_ENABLE)
    sock.setsockopt(SOL_SCTP, SCTP_PEER_ADDR_PARAMS, data.ljust(_PADDRPARAMS_LEN, b"\0"))


def subscribe_events(sock: socket.socket) -> None:
    """Association, peer-address and shutdown notifications (struct sctp_event_subscribe, first 6 flags)."""
    sock.setsockopt(SOL_SCTP, SCTP_EVENTS, bytes([0, 1, 1, 0, 0, 1]))


def enable_rcvinfo(sock: socket.socket) -> None:
    """Have recvmsg() return SCTP_RCVINFO (stream, PPID) with each message."""
    sock.setsockopt(SOL_SCTP, SCTP_RECVRCVINFO, 1)


def set_default_ppid(sock: socket.socket, ppid: int) -> None:
    """PPID for sends without SCTP_SNDINFO (the kernel writes the field as given: network order)."""
    sock.setsockopt(SOL_SCTP, SCTP_DEFAULT_SNDINFO, _SNDINFO.pack(0, 0, socket.htonl(ppid), 0, 0))


def sndinfo_cmsg(stream: int, ppid: int) -> tuple[int, int, bytes]:
    """Ancillary data that sends one message on ``stream`` with ``ppid``."""
    return (SOL_SCTP, SCTP_SNDINFO, _SNDINFO.pack(stream, 0, socket.htonl(ppid), 0, 0))


def parse_rcvinfo(ancdata: list[tuple[int, int, bytes]]) -> tuple[int, int] | None:
    """(stream, PPID) of a received message, or None when the kernel gave no SCTP_RCVINFO."""
    for level, kind, data in ancdata:
        if level == SOL_SCTP and kind == SCTP_RCVINFO and len(data) >= _RCVINFO.size:
            sid, _ssn, _flags, ppid, *_ = _RCVINFO.unpack_from(data)
            return sid, socket.ntohl(ppid)
    return None


_libc = ctypes.CDLL(None, use_errno=True)


def _getsockopt(sock: socket.socket, option: int, size: int) -> bytes:
    """getsockopt with a zeroed buffer: SCTP getters read an assoc id from it, and Python's own
    ``socket.getsockopt(level, opt, buflen)`` passes uninitialised memory."""
    buf = ctypes.create_string_buffer(size)
    length = ctypes.c_uint32(size)
    if _libc.getsockopt(sock.fileno(), SOL_SCTP, option, buf, ctypes.byref(length)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return buf.raw[:length.value]


def _getaddrs(sock: socket.socket, option: int) -> list[tuple[str, int]]:
    raw = _getsockopt(sock, option, 8 + 64 * 28)
    count = struct.unpack_from("=iI", raw)[1]
    out, offset = [], 8
    for _ in range(count):
        addr, used = unpack_sockaddr(raw[offset:])
        out.append(addr)
        offset += used
    return out


def peer_addresses(sock: socket.socket) -> list[tuple[str, int]]:
    return _getaddrs(sock, SCTP_GET_PEER_ADDRS)


def local_addresses(sock: socket.socket) -> list[tuple[str, int]]:
    return _getaddrs(sock, SCTP_GET_LOCAL_ADDRS)


@dataclass(frozen=True, slots=True)
class AssocStatus:
    """The parts of ``struct sctp_status`` a Diameter node cares about."""

    inbound_streams: int
    outbound_streams: int
    primary: tuple[str, int]
    primary_state: int


def status(sock: socket.socket) -> AssocStatus:
    raw = _getsockopt(sock, SCTP_STATUS, _STATUS.size)
    fields = _STATUS.unpack_from(raw)
    primary, _ = unpack_sockaddr(fields[9])
    return AssocStatus(inbound_streams=fields[5], outbound_streams=fields[6], primary=primary,
                       primary_state=fields[10])


def set_primary(sock: socket.socket, host: str, port: int) -> None:
    """SCTP_PRIMARY_ADDR: send new data to this peer address first."""
    sock.setsockopt(SOL_SCTP, SCTP_PRIMARY_ADDR, struct.pack("=i", 0) + _storage(host, port))


@dataclass(frozen=True, slots=True)
class Notification:
    """A decoded SCTP notification: its type name and what it says (address and state for paths)."""

    kind: str
    state: str
    address: tuple[str, int] | None = None
    error: int = 0


def parse_notification(data: bytes) -> Notification:
    kind = struct.unpack_from("=H", data)[0]
    if kind == SCTP_PEER_ADDR_CHANGE:
        addr, _ = unpack_sockaddr(data[8:8 + _SOCKADDR_STORAGE])
        state, error = struct.unpack_from("=ii", data, 8 + _SOCKADDR_STORAGE)
        return Notification("PEER_ADDR_CHANGE", PEER_ADDR_STATES.get(state, str(state)), addr, error)
    if kind == SCTP_ASSOC_CHANGE:
        state, error = struct.unpack_from("=HH", data, 8)
        return Notification("ASSOC_CHANGE", ASSOC_STATES.get(state, str(state)), None, error)
    if kind == SCTP_SHUTDOWN_EVENT:
        return Notification("SHUTDOWN_EVENT", "")
    return Notification(f"0x{kind:04x}", "")
