"""A point-in-time view of all counters and gauges, whether read from this process or from Redis."""

from __future__ import annotations

from dataclasses import dataclass, field

from sigcore.metrics.families import OPEN_CODES, PEER_STATE
from sigcore.metrics.registry import Registry, SeriesKey


@dataclass(slots=True)
class Snapshot:
    counters: dict[SeriesKey, int] = field(default_factory=dict)
    gauges: dict[SeriesKey, float] = field(default_factory=dict)
    source: str = "local"  # "redis": summed over every process; "local": this process only

    def counter(self, *key: str | int) -> int:
        return self.counters.get(tuple(key), 0)

    def total(self, family: str, *prefix: str | int) -> int:
        """Sum of a family's series whose first labels equal ``prefix``."""
        n = len(prefix)
        return sum(v for k, v in self.counters.items() if k[0] == family and k[1:1 + n] == prefix)


def local_snapshot(registry: Registry) -> Snapshot:
    return Snapshot(dict(registry.counters), dict(registry.gauges), "local")


def _peer_rank(code: float) -> tuple[int, float]:
    return (2 if code in OPEN_CODES else 0 if code == 1 else 1, code)


def merge_gauge(key: SeriesKey, current: float | None, new: float) -> float:
    """Gauges from several processes: a peer is as open as its most open connection; others take max."""
    if current is None:
        return new
    if key[0] == PEER_STATE:
        return max(current, new, key=_peer_rank)
    return max(current, new)
