"""The DRA's counters, in the process-wide metrics registry (Prometheus and SIGCORE-MIB, see
`sigcore.metrics.families`): per route and peer, what was relayed and how it ended."""

from __future__ import annotations

from sigcore.metrics.families import (
    DRA_ANSWERS,
    DRA_FAILOVERS,
    DRA_LATENCY,
    DRA_LOCAL_ANSWERS,
    DRA_LOOPED,
    DRA_RELAYED,
    DRA_SCRIPT_ERRORS,
    DRA_TIMEOUTS,
    REGISTRY,
)
from sigcore.metrics.registry import Registry

NO_ROUTE = "-"  # the route label of requests no rule matched (Destination-Host of a connected peer, 3002)


_CLASSES = ("none", "1xxx", "2xxx", "3xxx", "4xxx", "5xxx")


def result_class(code: int | None) -> str:
    """``2xxx`` .. ``5xxx``, or ``none`` for an answer without a Result-Code."""
    if code is None or not 1000 <= code <= 5999:
        return "none"
    return _CLASSES[code // 1000]


class DraStats:
    __slots__ = ("registry",)

    def __init__(self, registry: Registry = REGISTRY) -> None:
        self.registry = registry

    def relayed(self, route: str, peer: str) -> None:
        self.registry.inc((DRA_RELAYED, route, peer))

    def answered(self, route: str, peer: str, code: int | None, seconds: float | None) -> None:
        self.registry.inc((DRA_ANSWERS, route, peer, result_class(code)))
        if seconds is not None:
            self.registry.observe(DRA_LATENCY, (route, peer), seconds)

    def failover(self, route: str, peer: str) -> None:
        self.registry.inc((DRA_FAILOVERS, route, peer))

    def timeout(self, route: str, peer: str) -> None:
        self.registry.inc((DRA_TIMEOUTS, route, peer))

    def looped(self, from_peer: str) -> None:
        self.registry.inc((DRA_LOOPED, from_peer))

    def local_answer(self, route: str, code: int) -> None:
        self.registry.inc((DRA_LOCAL_ANSWERS, route, code))

    def script_errors(self, script: str, count: int) -> None:
        self.registry.inc((DRA_SCRIPT_ERRORS, script), count)
