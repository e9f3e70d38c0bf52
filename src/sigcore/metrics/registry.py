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


#: histogram family -> its bucket and sum series' family names (made once, not per observation)
_HISTOGRAM_SERIES: dict[str, tuple[str, str]] = {}


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
        self.observe_series(self.histogram_series(family, labels), seconds)

    def histogram_series(self, family: str, labels: tuple[str | int, ...]) -> HistogramSeries:
        """The series keys of one labelled histogram, for a caller that observes it often (`observe_series`)."""
        names = _HISTOGRAM_SERIES.get(family)
        if names is None:
            names = _HISTOGRAM_SERIES[family] = (family + "_bucket", family + "_sum_us")
        buckets = tuple((names[0], *labels, i) for i in range(len(self.buckets) + 1))
        return buckets, (names[1], *labels)

    def observe_series(self, series: HistogramSeries, seconds: float) -> None:
        counters = self.counters
        bucket = series[0][bisect_left(self.buckets, seconds)]
        counters[bucket] = counters.get(bucket, 0) + 1
        total = series[1]
        counters[total] = counters.get(total, 0) + round(seconds * 1_000_000)

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
