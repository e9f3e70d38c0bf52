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
from sigcore.metrics.registry import Registry, SeriesKey

NO_ROUTE = "-"  # the route label of requests no rule matched (Destination-Host of a connected peer, 3002)


_CLASSES = ("none", "1xxx", "2xxx", "3xxx", "4xxx", "5xxx")


def result_class(code: int | None) -> str:
    """``2xxx`` .. ``5xxx``, or ``none`` for an answer without a Result-Code."""
    if code is None or not 1000 <= code <= 5999:
        return "none"
    return _CLASSES[code // 1000]


class _PairSeries:
    """The series one (route, peer) pair updates per relayed message, made once (counting is on the relay's
    hot path: a dict update per counter, no key built per message)."""

    __slots__ = ("answers", "latency", "relayed")

    def __init__(self, registry: Registry, route: str, peer: str) -> None:
        self.relayed: SeriesKey = (DRA_RELAYED, route, peer)
        self.answers = {cls: (DRA_ANSWERS, route, peer, cls) for cls in _CLASSES}
        self.latency = registry.histogram_series(DRA_LATENCY, (route, peer))


class DraStats:
    __slots__ = ("_pairs", "registry")

    def __init__(self, registry: Registry = REGISTRY) -> None:
        self.registry = registry
        self._pairs: dict[str, dict[str, _PairSeries]] = {}

    def _series(self, route: str, peer: str) -> _PairSeries:
        by_peer = self._pairs.get(route)
        if by_peer is None:
            by_peer = self._pairs[route] = {}
        series = by_peer.get(peer)
        if series is None:
            series = by_peer[peer] = _PairSeries(self.registry, route, peer)
        return series

    def relayed(self, route: str, peer: str) -> None:
        self.registry.inc(self._series(route, peer).relayed)

    def answered(self, route: str, peer: str, code: int | None, seconds: float | None) -> None:
        series = self._series(route, peer)
        self.registry.inc(series.answers[result_class(code)])
        if seconds is not None:
            self.registry.observe_series(series.latency, seconds)

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
