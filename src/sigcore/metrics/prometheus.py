"""Prometheus text exposition (format 0.0.4) of a ``Snapshot``.

Written by hand rather than through prometheus_client's collectors because the numbers come from a
snapshot (Redis totals over all processes, or this process), not from live client objects; the format
is small and stable. Diameter series also get readable ``application``/``command`` labels.
"""

from __future__ import annotations

from collections import defaultdict

from sigcore.diameter import DICTIONARY
from sigcore.metrics.families import DIA_ANSWERS, DIA_LATENCY, FAMILIES, Family
from sigcore.metrics.registry import LATENCY_BUCKETS, SeriesKey
from sigcore.metrics.snapshot import Snapshot

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(family: Family, values: tuple[str | int, ...], extra: dict[str, str] | None = None) -> str:
    pairs = list(zip(family.labels, values, strict=False))
    if family.key in (DIA_ANSWERS, DIA_LATENCY) and len(values) >= 2:
        app, cmd = int(values[0]), int(values[1])
        command = DICTIONARY.command(app, cmd, True)
        pairs += [("application", DICTIONARY.applications.get(app, str(app))),
                  ("command", command.short if command else str(cmd))]
    pairs += list((extra or {}).items())
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in pairs) + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _histogram(family: Family, counters: dict[SeriesKey, int], lines: list[str]) -> None:
    buckets: dict[tuple[str | int, ...], dict[int, int]] = defaultdict(dict)
    sums: dict[tuple[str | int, ...], int] = {}
    for key, value in counters.items():
        if key[0] == family.key + "_bucket":
            buckets[key[1:-1]][int(key[-1])] = value
        elif key[0] == family.key + "_sum_us":
            sums[key[1:]] = value
    for labels in sorted(buckets, key=str):
        running = 0
        for i, bound in enumerate((*LATENCY_BUCKETS, float("inf"))):
            running += buckets[labels].get(i, 0)
            le = "+Inf" if bound == float("inf") else repr(bound)
            lines.append(f"{family.prom_name}_bucket{_labels(family, labels, {'le': le})} {running}")
        lines.append(f"{family.prom_name}_sum{_labels(family, labels)} {sums.get(labels, 0) / 1e6!r}")
        lines.append(f"{family.prom_name}_count{_labels(family, labels)} {running}")


def render(snapshot: Snapshot) -> str:
    lines: list[str] = []
    for family in FAMILIES:
        lines.append(f"# HELP {family.prom_name} {family.help}")
        lines.append(f"# TYPE {family.prom_name} {family.kind}")
        if family.kind == "histogram":
            _histogram(family, snapshot.counters, lines)
            continue
        source: dict[SeriesKey, float] = snapshot.gauges if family.kind == "gauge" else snapshot.counters  # type: ignore[assignment]
        for key in sorted((k for k in source if k[0] == family.key), key=str):
            lines.append(f"{family.prom_name}{_labels(family, key[1:])} {_number(source[key])}")
    lines.append("# HELP sigcore_metrics_aggregated 1 when the numbers are totals over all processes (Redis).")
    lines.append("# TYPE sigcore_metrics_aggregated gauge")
    lines.append(f"sigcore_metrics_aggregated {1 if snapshot.source == 'redis' else 0}")
    return "\n".join(lines) + "\n"
