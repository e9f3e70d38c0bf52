"""The store under test on every backend: SQLite in a temp dir, PostgreSQL and MariaDB as real servers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigcore.store import Store, migrate

BACKENDS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.interop),
    pytest.param("mariadb", marks=pytest.mark.interop),
]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return str(request.getfixturevalue(f"{request.param}_url".replace("postgresql", "postgres")))


@pytest.fixture
def kek() -> bytes:
    return os.urandom(32)


@pytest.fixture
def store(db_url: str, kek: bytes) -> Iterator[Store]:
    migrate(db_url)
    with Store(db_url, kek) as opened:
        yield opened
