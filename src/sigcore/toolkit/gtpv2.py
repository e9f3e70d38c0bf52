"""GTPv2-C (3GPP TS 29.274): the F-TEID information element and just enough of a message builder to carry it.

Only what core-network engineers reach for when checking a trace: the F-TEID bit layout (§8.22), the IMSI
and Recovery IEs, and Echo Request / Create Session Request headers (§5.1) so tshark can dissect the result.
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from sigcore.toolkit import tbcd

GTPV2C_PORT = 2123
_VERSION = 2


class IEType(enum.IntEnum):
    """Information element types used here (TS 29.274 Table 8.1-1)."""

    IMSI = 1
    RECOVERY = 3
    F_TEID = 87


class MessageType(enum.IntEnum):
    """GTPv2-C message types used here (TS 29.274 Table 6.1-1)."""

    ECHO_REQUEST = 1
    ECHO_RESPONSE = 2
    CREATE_SESSION_REQUEST = 32


class InterfaceType(enum.IntEnum):
    """F-TEID interface types, TS 29.274 Table 8.22-1 (values 41-63 are spare up to Rel-17)."""

    S1_U_ENODEB_GTP_U = 0
    S1_U_SGW_GTP_U = 1
    S12_RNC_GTP_U = 2
    S12_SGW_GTP_U = 3
    S5_S8_SGW_GTP_U = 4
    S5_S8_PGW_GTP_U = 5
    S5_S8_SGW_GTP_C = 6
    S5_S8_PGW_GTP_C = 7
    S5_S8_SGW_PMIPV6 = 8
    S5_S8_PGW_PMIPV6 = 9
    S11_MME_GTP_C = 10
    S11_S4_SGW_GTP_C = 11
    S10_N26_MME_GTP_C = 12
    S3_MME_GTP_C = 13
    S3_SGSN_GTP_C = 14
    S4_SGSN_GTP_U = 15
    S4_SGW_GTP_U = 16
    S4_SGSN_GTP_C = 17
    S16_SGSN_GTP_C = 18
    ENODEB_GNODEB_GTP_U_DL_FORWARDING = 19
    ENODEB_GTP_U_UL_FORWARDING = 20
    RNC_GTP_U_FORWARDING = 21
    SGSN_GTP_U_FORWARDING = 22
    SGW_UPF_GTP_U_DL_FORWARDING = 23
    SM_MBMS_GW_GTP_C = 24
    SN_MBMS_GW_GTP_C = 25
    SM_MME_GTP_C = 26
    SN_SGSN_GTP_C = 27
    SGW_GTP_U_UL_FORWARDING = 28
    SN_SGSN_GTP_U = 29
    S2B_EPDG_GTP_C = 30
    S2B_U_EPDG_GTP_U = 31
    S2B_PGW_GTP_C = 32
    S2B_U_PGW_GTP_U = 33
    S2A_TWAN_GTP_U = 34
    S2A_TWAN_GTP_C = 35
    S2A_PGW_GTP_C = 36
    S2A_PGW_GTP_U = 37
    S11_MME_GTP_U = 38
    S11_SGW_GTP_U = 39
    N26_AMF_GTP_C = 40

    @property
    def description(self) -> str:
        """The spec's wording, e.g. "S5/S8 PGW GTP-C interface"."""
        return _DESCRIPTIONS[self.value]


_DESCRIPTIONS = (
    "S1-U eNodeB GTP-U interface", "S1-U SGW GTP-U interface", "S12 RNC GTP-U interface",
    "S12 SGW GTP-U interface", "S5/S8 SGW GTP-U interface", "S5/S8 PGW GTP-U interface",
    "S5/S8 SGW GTP-C interface", "S5/S8 PGW GTP-C interface",
    "S5/S8 SGW PMIPv6 interface (GRE key in the TEID field)",
    "S5/S8 PGW PMIPv6 interface (GRE key in the TEID field)",
    "S11 MME GTP-C interface", "S11/S4 SGW GTP-C interface", "S10/N26 MME GTP-C interface",
    "S3 MME GTP-C interface", "S3 SGSN GTP-C interface", "S4 SGSN GTP-U interface", "S4 SGW GTP-U interface",
    "S4 SGSN GTP-C interface", "S16 SGSN GTP-C interface",
    "eNodeB/gNodeB GTP-U interface for DL data forwarding", "eNodeB GTP-U interface for UL data forwarding",
    "RNC GTP-U interface for data forwarding", "SGSN GTP-U interface for data forwarding",
    "SGW/UPF GTP-U interface for DL data forwarding", "Sm MBMS GW GTP-C interface",
    "Sn MBMS GW GTP-C interface", "Sm MME GTP-C interface", "Sn SGSN GTP-C interface",
    "SGW GTP-U interface for UL data forwarding", "Sn SGSN GTP-U interface", "S2b ePDG GTP-C interface",
    "S2b-U ePDG GTP-U interface", "S2b PGW GTP-C interface", "S2b-U PGW GTP-U interface",
    "S2a TWAN GTP-U interface", "S2a TWAN GTP-C interface", "S2a PGW GTP-C interface",
    "S2a PGW GTP-U interface", "S11 MME GTP-U interface", "S11 SGW GTP-U interface",
    "N26 AMF GTP-C interface",
)

_IE_HEADER = struct.Struct("!BHB")  # type, length (of the value), spare(4) | instance(4)
_FLAG_V4 = 0x80
_FLAG_V6 = 0x40
_INTERFACE_MASK = 0x3F


def encode_ie(ie_type: int, value: bytes, instance: int = 0) -> bytes:
    """One GTPv2 IE: type, 2-octet length of ``value``, instance in the low nibble, then the value."""
    if not 0 <= instance <= 15:
        raise ValueError(f"IE instance must be 0-15, got {instance}")
    return _IE_HEADER.pack(ie_type, len(value), instance) + value


def decode_ie(data: bytes) -> tuple[int, int, bytes, bytes]:
    """Split one IE off ``data``: ``(type, instance, value, rest)``."""
    if len(data) < _IE_HEADER.size:
        raise ValueError(f"GTPv2 IE header needs {_IE_HEADER.size} octets, got {len(data)}")
    ie_type, length, instance = _IE_HEADER.unpack_from(data)
    end = _IE_HEADER.size + length
    if len(data) < end:
        left = len(data) - _IE_HEADER.size
        raise ValueError(f"GTPv2 IE {ie_type} claims {length} octets, only {left} left")
    return ie_type, instance & 0x0F, data[_IE_HEADER.size : end], data[end:]


@dataclass(frozen=True)
class FTEID:
    """Fully Qualified TEID (TS 29.274 §8.22): interface type, TEID or GRE key, IPv4 and/or IPv6 address."""

    interface_type: InterfaceType | int
    teid: int
    ipv4: ipaddress.IPv4Address | None = None
    ipv6: ipaddress.IPv6Address | None = None
    instance: int = 0

    def __post_init__(self) -> None:
        if not 0 <= int(self.interface_type) <= _INTERFACE_MASK:
            raise ValueError(f"interface type must be 0-63, got {self.interface_type}")
        if not 0 <= self.teid <= 0xFFFFFFFF:
            raise ValueError(f"TEID must fit 32 bits, got {self.teid}")
        if self.ipv4 is None and self.ipv6 is None:
            raise ValueError("an F-TEID carries at least one of IPv4 and IPv6")
        # Accept strings for convenience, store address objects so equality is by value.
        if self.ipv4 is not None:
            object.__setattr__(self, "ipv4", ipaddress.IPv4Address(self.ipv4))
        if self.ipv6 is not None:
            object.__setattr__(self, "ipv6", ipaddress.IPv6Address(self.ipv6))
        known = _known_interface(int(self.interface_type))
        object.__setattr__(self, "interface_type", known)

    def encode(self) -> bytes:
        """The whole IE (type 87, length, instance, flags|interface type, TEID, addresses)."""
        flags = (_FLAG_V4 if self.ipv4 is not None else 0) | (_FLAG_V6 if self.ipv6 is not None else 0)
        value = struct.pack("!BI", flags | int(self.interface_type), self.teid)
        if self.ipv4 is not None:
            value += self.ipv4.packed
        if self.ipv6 is not None:
            value += self.ipv6.packed
        return encode_ie(IEType.F_TEID, value, self.instance)

    @classmethod
    def decode(cls, data: bytes) -> FTEID:
        """Parse a whole F-TEID IE as produced by :meth:`encode` (trailing octets are an error)."""
        ie_type, instance, value, rest = decode_ie(data)
        if ie_type != IEType.F_TEID:
            raise ValueError(f"not an F-TEID IE: type {ie_type}")
        if rest:
            raise ValueError(f"{len(rest)} octets after the F-TEID IE")
        return cls.decode_value(value, instance)

    @classmethod
    def decode_value(cls, value: bytes, instance: int = 0) -> FTEID:
        """Parse the IE's value part (what follows the 4-octet IE header)."""
        if len(value) < 5:
            raise ValueError(f"F-TEID value needs at least 5 octets, got {len(value)}")
        flags, teid = struct.unpack_from("!BI", value)
        offset = 5
        ipv4 = ipv6 = None
        if flags & _FLAG_V4:
            ipv4 = ipaddress.IPv4Address(_take(value, offset, 4, "IPv4 address"))
            offset += 4
        if flags & _FLAG_V6:
            ipv6 = ipaddress.IPv6Address(_take(value, offset, 16, "IPv6 address"))
            offset += 16
        return cls(flags & _INTERFACE_MASK, teid, ipv4, ipv6, instance)


def _known_interface(value: int) -> InterfaceType | int:
    try:
        return InterfaceType(value)
    except ValueError:
        return value


def _take(data: bytes, offset: int, size: int, what: str) -> bytes:
    if len(data) < offset + size:
        raise ValueError(f"F-TEID flags announce an {what} but the IE is too short")
    return data[offset : offset + size]


def imsi_ie(imsi: str) -> bytes:
    """IMSI IE (§8.3): the digits in TBCD."""
    return encode_ie(IEType.IMSI, tbcd.encode(imsi))


def recovery_ie(restart_counter: int) -> bytes:
    """Recovery (Restart Counter) IE (§8.5), mandatory in Echo Request."""
    return encode_ie(IEType.RECOVERY, bytes((restart_counter,)))


def message(msg_type: int, ies: Iterable[bytes], sequence: int, teid: int | None = None) -> bytes:
    """A GTPv2-C message (§5.1): header with the T flag and TEID when ``teid`` is given, then the IEs."""
    if not 0 <= sequence <= 0xFFFFFF:
        raise ValueError(f"sequence number must fit 24 bits, got {sequence}")
    body = b"".join(ies)
    tail = sequence.to_bytes(3, "big") + b"\x00" + body
    flags = _VERSION << 5
    if teid is not None:
        flags |= 0x08
        tail = struct.pack("!I", teid) + tail
    return struct.pack("!BBH", flags, msg_type, len(tail)) + tail


def echo_request(sequence: int, restart_counter: int = 0) -> bytes:
    """Echo Request (§7.1.1): no TEID, one Recovery IE."""
    return message(MessageType.ECHO_REQUEST, [recovery_ie(restart_counter)], sequence)


def create_session_request(imsi: str, sender_fteid: FTEID, sequence: int) -> bytes:
    """A minimal Create Session Request (§7.2.1) carrying the IMSI and the Sender F-TEID for control plane.

    Sent with TEID 0 as the first message of a session is; a real MME adds APN, RAT type, bearer contexts.
    """
    ies = [imsi_ie(imsi), sender_fteid.encode()]
    return message(MessageType.CREATE_SESSION_REQUEST, ies, sequence, teid=0)
