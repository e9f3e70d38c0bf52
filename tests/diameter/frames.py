"""Valid sample messages built with the codec, and byte surgery to break them on purpose.

Shared by the sans-IO codec, validation and fuzz tests. Faults are made by rewriting one field of a
frame the codec produced, never by writing hex.
"""

from __future__ import annotations

import struct

from rawpeer import ccr

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.answers import Identity
from sigcore.diameter.avp import Avp
from sigcore.diameter.capabilities import LocalCapabilities, make_cer
from sigcore.diameter.constants import HEADER_LEN
from sigcore.diameter.message import Message

UNKNOWN_VENDOR = 99999


def local_caps(origin: str = "peer.localdomain", apps: dict[int, int] | None = None) -> LocalCapabilities:
    return LocalCapabilities(Identity(origin, "localdomain"), auth_apps={4: 0} if apps is None else apps)


def cer_message(origin: str = "peer.localdomain") -> Message:
    msg = make_cer(local_caps(origin, {4: 0, 16777251: 10415}))
    msg.hop_by_hop, msg.end_to_end = 0x1234, 0x5678
    return msg


def nested_unknown(depth: int, leaf: bytes = b"leaf!") -> Avp:
    """``depth`` levels of unknown vendor AVPs (no M-bit), each holding the next; the innermost holds
    ``leaf``. The codec cannot know they are grouped, so they must survive byte-exact."""
    avp = Avp(1000 + depth, leaf, flags=0, vendor=UNKNOWN_VENDOR)
    for level in range(depth - 1, 0, -1):
        avp = Avp(1000 + level, avp.to_bytes(), flags=0, vendor=UNKNOWN_VENDOR)
    return avp


def ccr_nested(levels: int) -> bytes:
    """A CCR frame with `levels` Multiple-Services-Credit-Control AVPs each inside the one before (its
    ``*[ AVP ]`` lets it hold itself), a Rating-Group innermost. Built flat: a million levels in linear time."""
    leaf = D.build("Rating-Group", 1).to_bytes()
    headers = b"".join(struct.pack(">II", 456, 0x40 << 24 | (8 * (levels - i) + len(leaf))) for i in range(levels))
    top = ccr(hbh=9, e2e=9).encode()
    body = top[HEADER_LEN:] + headers + leaf
    return top[:1] + (HEADER_LEN + len(body)).to_bytes(3, "big") + top[4:HEADER_LEN] + body


def ccr_with_mscc() -> Message:
    """A CCR whose MSCC nests five levels deep: MSCC / Used-Service-Unit / CC-Money / Unit-Value /
    Value-Digits."""
    mscc = D.build("Multiple-Services-Credit-Control", {
        "Rating-Group": 10,
        "Used-Service-Unit": [{"CC-Money": {"Unit-Value": {"Value-Digits": 1234, "Exponent": -2},
                                            "Currency-Code": 978}}],
    })
    msg = ccr(hbh=11, e2e=12)
    msg.avps.append(mscc)
    return msg


def avp_offsets(frame: bytes, start: int = 20, end: int | None = None) -> list[int]:
    """Offsets of the AVPs in ``frame[start:end]`` (the frame must be well formed there)."""
    end = len(frame) if end is None else end
    out = []
    off = start
    while off < end:
        out.append(off)
        length = int.from_bytes(frame[off + 5:off + 8], "big")
        off += (length + 3) & ~3
    return out


def with_avp_length(frame: bytes, off: int, length: int) -> bytes:
    """``frame`` with the length field of the AVP at ``off`` rewritten (flags kept)."""
    flags = frame[off + 4]
    return frame[:off + 4] + struct.pack(">I", (flags << 24) | length) + frame[off + 8:]


def with_message_length(frame: bytes, length: int) -> bytes:
    return frame[:1] + length.to_bytes(3, "big") + frame[4:]


def with_payload(avp: Avp, data: bytes) -> Avp:
    """A copy of ``avp`` carrying ``data`` instead of its own payload."""
    return Avp(avp.code, data, avp.flags, avp.vendor)
