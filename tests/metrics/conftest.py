"""Fixtures of the metrics tests."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sigcore.metrics import service as metrics_service
from sigcore.metrics.registry import Registry

from .helpers import MeteredHss, RestartableRedis


@pytest.fixture
def private_redis() -> Iterator[RestartableRedis]:
    """A redis-server of this test alone (the Redis-down test stops it)."""
    if not shutil.which("redis-server"):
        pytest.skip("redis-server absent (apt-get install redis-server)")
    server = RestartableRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def metered_hss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, float], MeteredHss]]:
    """``metered_hss(redis_url, flush_interval)``: a started S6a HSS with metrics installed, stopped at the end.

    ``install`` counts into the process-wide registry; the test gets a fresh one so counts made by other
    tests in this process cannot leak into the numbers it compares.
    """
    started: list[MeteredHss] = []
    registry = Registry()
    monkeypatch.setattr(metrics_service, "REGISTRY", registry)

    def start(redis_url: str, flush_interval: float) -> MeteredHss:
        node = MeteredHss(tmp_path, redis_url, flush_interval, registry)
        started.append(node)
        node.start()
        return node

    yield start
    for node in started:
        node.stop()
