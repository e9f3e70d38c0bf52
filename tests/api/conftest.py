"""The API under test on SQLite and on a real PostgreSQL server, each served over real HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from apiserver import LiveApi, ThreadedApi, issue_tokens

from sigcore.applications import Services
from sigcore.store import Store, migrate

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.interop)]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'api.sqlite'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    migrate(db_url)
    with Store(db_url, os.urandom(32)) as opened:
        yield opened


@pytest.fixture
def services() -> Services:
    """What `sigcore run` would hand the API; tests add a ``node`` or an ``hss`` notifier."""
    return Services()


@pytest.fixture
def api(store: Store, services: Services) -> Iterator[LiveApi]:
    server = ThreadedApi(store, services)
    server.start()
    try:
        yield LiveApi(server.server.url, store, issue_tokens(store))
    finally:
        server.stop()
