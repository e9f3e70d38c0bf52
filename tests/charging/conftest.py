"""A running charging engine (JSON-RPC over HTTP and raw TCP) on a migrated store, with a clock tests move."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from charging_engine import Clock, Engine, Receiver

from sigcore.config import ChargingConfig
from sigcore.store import migrate

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.interop),
            pytest.param("mariadb", marks=pytest.mark.interop)]


@pytest.fixture(params=BACKENDS)
def charging_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'charging.sqlite'}"
    else:
        url = str(request.getfixturevalue("postgres_url" if request.param == "postgresql" else "mariadb_url"))
    migrate(url)
    return url


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def engine(charging_url: str, clock: Clock, receiver: Receiver) -> Iterator[Engine]:
    cfg = ChargingConfig(listen="127.0.0.1:0", listen_tcp="127.0.0.1:0", http_post_url=receiver.url)
    running = Engine(charging_url, cfg, clock)
    yield running
    running.close()


from interop.conftest import tshark_capture  # noqa: E402,F401  (fixture: tshark on loopback)
