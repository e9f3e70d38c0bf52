"""The AVPs every S6a message we build carries, and the requests the HSS originates (CLR, IDR, DSR)."""

from __future__ import annotations

import itertools
import time
from typing import Any

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.answers import Identity, request
from sigcore.diameter.avp import Avp
from sigcore.diameter.message import Message
from sigcore.hss.s6a.codes import S6A, VENDOR, Command

NO_STATE_MAINTAINED = 1
APPLICATION_AVPS: list[Avp] = D.build_many([
    ("Vendor-Specific-Application-Id", [("Vendor-Id", VENDOR), ("Auth-Application-Id", S6A)]),
    ("Auth-Session-State", NO_STATE_MAINTAINED),
])
"""Vendor-Specific-Application-Id and Auth-Session-State, as TS 29.272 §7.2 puts them in every command."""

_sessions = itertools.count(1)


def session_id(identity: Identity) -> str:
    """``<origin-host>;<high 32>;<low 32>`` (RFC 6733 §8.8), unique for this process's lifetime."""
    return f"{identity.origin_host};{time.time_ns() >> 32 & 0xFFFFFFFF};{next(_sessions)}"


def hss_request(identity: Identity, command: Command, imsi: str, host: str, realm: str | None,
                body: list[tuple[str, Any]]) -> Message:
    """An HSS-initiated S6a request to the MME/SGSN `host` (CLR, IDR, DSR)."""
    avps = [D.build("Session-Id", session_id(identity)), *APPLICATION_AVPS, *identity.origin_avps]
    avps += D.build_many([
        ("Destination-Host", host),
        ("Destination-Realm", realm or host.partition(".")[2] or identity.origin_realm),
        ("User-Name", imsi),
        *body,
    ])
    return request(int(command), S6A, avps)
