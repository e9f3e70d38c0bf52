"""Fixtures of the metrics tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from .helpers import RestartableRedis


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
