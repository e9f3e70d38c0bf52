"""The ULR's serving-node write (`registration.ServingUpdates`), straight against a SQLite store: a ULR
from the node already registered refreshes it without rewriting the host (the indexed column), and every
other case writes the host; either way realm, peer, time and the purge flag are the new ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sigcore.hss.s6a.registration import ProfileCache, Registered, ServingUpdate, ServingUpdates
from sigcore.store import Store
from support.s6a import IMSI, new_kek, provision, sqlite_url


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = provision(sqlite_url(tmp_path), new_kek())
    yield s
    s.close()


def register(store: Store, *updates: ServingUpdate) -> list[Registered | Exception]:
    with store.writing() as conn:
        return ServingUpdates(ProfileCache(store)).run(conn, updates)


def ulr(host: str, realm: str = "localdomain", peer: str | None = None) -> ServingUpdate:
    return ServingUpdate(IMSI, "mme", host, realm, peer or host)


def test_same_node_again_refreshes_realm_peer_time_and_clears_the_purge(store: Store) -> None:
    [first] = register(store, ulr("mme1.localdomain"))
    assert isinstance(first, Registered) and first.previous is None
    before = store.get_serving(IMSI).mme
    assert before is not None and before.host == "mme1.localdomain"
    assert store.purge(IMSI, "mme1.localdomain", node="mme")

    [again] = register(store, ulr("mme1.localdomain", realm="other.realm", peer="peer-b"))
    assert isinstance(again, Registered) and again.previous is not None
    assert again.previous.host == "mme1.localdomain" and again.previous.purged
    now = store.get_serving(IMSI).mme
    assert now is not None
    assert (now.host, now.realm, now.peer, now.purged) == ("mme1.localdomain", "other.realm", "peer-b", False)
    assert before.updated_at is not None and now.updated_at is not None and now.updated_at >= before.updated_at


def test_a_changed_host_is_written_even_if_only_its_case_changed(store: Store) -> None:
    register(store, ulr("mme1.localdomain"))
    register(store, ulr("MME1.localdomain"))
    serving = store.get_serving(IMSI).mme
    assert serving is not None and serving.host == "MME1.localdomain"
    register(store, ulr("mme2.localdomain"))
    serving = store.get_serving(IMSI).mme
    assert serving is not None and serving.host == "mme2.localdomain"


def test_in_one_batch_the_last_registration_wins_against_the_stored_host(store: Store) -> None:
    """mme2 then mme1 in one batch, mme1 stored: the write is a refresh (mme1 is stored) and mme1 stays;
    the second ULR still learns that mme2 was registered before it (for its CLR)."""
    register(store, ulr("mme1.localdomain"))
    first, second = register(store, ulr("mme2.localdomain"), ulr("mme1.localdomain", peer="peer-c"))
    assert isinstance(first, Registered) and isinstance(second, Registered)
    assert first.previous is not None and first.previous.host == "mme1.localdomain"
    assert second.previous is not None and second.previous.host == "mme2.localdomain"
    serving = store.get_serving(IMSI).mme
    assert serving is not None and (serving.host, serving.peer) == ("mme1.localdomain", "peer-c")

    first, second = register(store, ulr("mme1.localdomain"), ulr("mme3.localdomain"))
    serving = store.get_serving(IMSI).mme
    assert serving is not None and serving.host == "mme3.localdomain"
