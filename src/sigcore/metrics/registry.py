"""In-process counters, gauges and histograms: plain dict updates so the Diameter hot path stays cheap.

Series are keyed by a tuple ``(family, *label_values)``. Counters only ever grow inside a process; the
Redis flusher computes deltas against what it last delivered, so an increment is one dict update and
nothing else. Gauges are the process's current view (peer states, active subscribers) and are published
per process instance. Histograms are stored as counters too (one per bucket, plus the sum in
microseconds), which keeps every aggregated number an integer that ``HINCRBY`` can add.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

SeriesKey = tuple[str | int, ...]
#: a labelled histogram's series: one key per bucket (the last is +Inf), and the sum's key
HistogramSeries = tuple[tuple[SeriesKey, ...], SeriesKey]

#: Latency bucket upper bounds in seconds (Prometheus ``le``); the last bucket is +Inf.
LATENCY_BUCKETS: tuple[float, ...] = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Registry:
    """All the numbers one process has counted since it started."""

    __slots__ = ("buckets", "counters", "gauges")

    def __init__(self, buckets: Iterable[float] = LATENCY_BUCKETS) -> None:
        self.counters: dict[SeriesKey, int] = {}
        self.gauges: dict[SeriesKey, float] = {}
        self.buckets: tuple[float, ...] = tuple(buckets)

    def inc(self, key: SeriesKey, amount: int = 1) -> None:
        counters = self.counters
        counters[key] = counters.get(key, 0) + amount

    def set(self, key: SeriesKey, value: float) -> None:
        self.gauges[key] = value

    def observe(self, family: str, labels: tuple[str | int, ...], seconds: float) -> None:
        """One histogram observation: its bucket (non-cumulative index) and the sum in microseconds."""
        counters = self.counters
        bucket = (family + "_bucket", *labels, bisect_left(self.buckets, seconds))
        counters[bucket] = counters.get(bucket, 0) + 1
        total = (family + "_sum_us", *labels)
        counters[total] = counters.get(total, 0) + round(seconds * 1_000_000)

    def histogram_series(self, family: str, labels: tuple[str | int, ...]) -> HistogramSeries:
        """The keys `observe` would build for this labelled histogram, made once for a caller that observes
        it on every message (`observe_series`)."""
        buckets = tuple((family + "_bucket", *labels, i) for i in range(len(self.buckets) + 1))
        return buckets, (family + "_sum_us", *labels)

    def observe_series(self, series: HistogramSeries, seconds: float) -> None:
        """`observe` with the keys made by `histogram_series`."""
        bucket, total = series[0][bisect_left(self.buckets, seconds)], series[1]
        self.inc(bucket)
        self.inc(total, round(seconds * 1_000_000))

    def clear(self) -> None:
        self.counters.clear()
        self.gauges.clear()


def encode_key(key: SeriesKey) -> str:
    """The Redis hash field of a series: ``family|label|label``."""
    return "|".join(str(part) for part in key)


def decode_key(field: str | bytes) -> SeriesKey:
    text = field.decode() if isinstance(field, bytes) else field
    family, *labels = text.split("|")
    return (family, *(int(x) if x.lstrip("-").isdigit() else x for x in labels))
