"""What the sans-IO peer state machine asks its adapter to do, and tells the application.

The adapter (``sigcore.diameter.aio``) executes actions in order; ``conn`` is the adapter's own opaque
connection handle, which the state machine only stores and compares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sigcore.diameter.message import Message


@dataclass(slots=True)
class Connect:
    """Open a transport connection to the peer (I-Snd-Conn-Req)."""


@dataclass(slots=True)
class Send:
    conn: Any
    message: Message


@dataclass(slots=True)
class Disconnect:
    """Close ``conn`` once what was queued on it has been written."""

    conn: Any


@dataclass(slots=True)
class PeerUp:
    """The peer reached I-Open or R-Open: applications may now use it."""

    conn: Any
    applications: frozenset[int]
    capabilities: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class PeerDown:
    reason: str


@dataclass(slots=True)
class Deliver:
    """An application message (request or answer) received on the open connection."""

    conn: Any
    message: Message


Action = Connect | Send | Disconnect | PeerUp | PeerDown | Deliver
