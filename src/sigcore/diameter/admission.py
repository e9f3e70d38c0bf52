"""Connections that have not completed the capabilities exchange (RFC 6733 §5.3), bounded.

Until its CER is accepted a connection is a stranger's: anyone who can reach the port can open thousands
and hold them (each a descriptor, a buffer, maybe a half-sent message). `Admission` counts them globally
and per source address, refuses beyond the limits at accept (the connection is reset before it costs more),
and bounds what a stranger may buffer (its first message must be a CER, which is small). The node closes a
connection whose CER has not arrived within ``cer_timeout`` of the accept (`NodeCore.cer_deadline`).
Refusals are logged rate-limited: a flood must not turn into a flood of log lines.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sigcore.log_limit import RateLimitedLog

log = logging.getLogger("sigcore.diameter.node")
limited_log = RateLimitedLog(log)


@dataclass(frozen=True, slots=True)
class AdmissionLimits:
    #: connections accepted and still without a CER, from all sources together
    pre_cer_connections: int = 256
    #: the same, from one source address
    pre_cer_per_address: int = 16
    #: the largest message buffered before the CER (a CER is a few hundred octets; others get 5015)
    pre_cer_message: int = 64 * 1024


class Admission:
    """Which accepted connections are still waiting for their CER, by source address."""

    def __init__(self, limits: AdmissionLimits | None = None) -> None:
        self.limits = limits or AdmissionLimits()
        self._waiting: dict[Any, str] = {}  # connection -> source address
        self._per_address: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._waiting)

    def admit(self, conn: Any) -> bool:
        """Count `conn` as waiting for its CER; False (refuse it) when a limit is reached."""
        address = str(conn.remote[0])
        if len(self._waiting) >= self.limits.pre_cer_connections:
            limited_log.warning("pre-cer-global", "refused a connection from %s: %d connections are waiting "
                                "for their CER (diameter.limits.pre_cer_connections)", address, len(self._waiting))
            return False
        if self._per_address[address] >= self.limits.pre_cer_per_address:
            limited_log.warning("pre-cer-address", "refused a connection from %s: %d of its connections are "
                                "waiting for their CER (diameter.limits.pre_cer_per_address)", address,
                                self._per_address[address])
            return False
        self._waiting[conn] = address
        self._per_address[address] += 1
        return True

    def waiting(self, conn: Any) -> bool:
        return conn in self._waiting

    def settled(self, conn: Any) -> None:
        """`conn` sent its CER, or is gone."""
        address = self._waiting.pop(conn, None)
        if address is not None:
            left = self._per_address[address] - 1
            if left:
                self._per_address[address] = left
            else:
                del self._per_address[address]

    def expired(self, conn: Any) -> bool:
        """`conn`'s CER deadline passed: True if it was still waiting (the node closes it)."""
        if conn not in self._waiting:
            return False
        limited_log.info("cer-timeout", "closing the connection from %s: no CER within cer_timeout",
                         self._waiting[conn])
        self.settled(conn)
        return True
