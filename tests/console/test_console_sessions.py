"""Console sessions in the database: seen by every process, expiring, capped, and holding no secret."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from sigcore.console import sessions as module
from sigcore.console.sessions import IDLE_SECONDS, MAX_AGE_SECONDS, SEEN_GRANULARITY, SessionStore
from sigcore.store import Store, migrate
from sigcore.store.tokens import IssuedToken, Role, TokenRepository
from sigcore.store.tokens_models import console_sessions


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'sessions.sqlite'}"
    migrate(url)
    with Store(url, os.urandom(32)) as opened:
        yield opened


@pytest.fixture
def issued(store: Store) -> IssuedToken:
    return TokenRepository(store).create(Role.PROVISION, "operator")


def _rows(store: Store) -> list[dict[str, object]]:
    with store.reading() as conn:
        return [dict(r._mapping) for r in conn.execute(select(console_sessions))]


def test_a_session_made_by_one_process_is_seen_and_ended_by_another(store: Store, issued: IssuedToken,
                                                                      tmp_path: Path) -> None:
    first = SessionStore(store)
    # another worker: its own engine on the same database
    with Store(f"sqlite:///{tmp_path / 'sessions.sqlite'}", None) as other_process:
        second = SessionStore(other_process)
        made = first.create(issued.token)
        seen = second.get(made.id)
        assert seen is not None
        assert (seen.actor, seen.role, seen.csrf, seen.token_id) == (made.actor, Role.PROVISION, made.csrf,
                                                                     issued.token.id)
        assert seen.can_write and not seen.is_admin
        second.drop(made.id)
        assert first.get(made.id) is None
    assert first.get(None) is None and first.get("not-a-session") is None


def test_the_database_holds_neither_the_cookie_nor_the_token(store: Store, issued: IssuedToken) -> None:
    made = SessionStore(store).create(issued.token)
    (row,) = _rows(store)
    stored = " ".join(str(value) for value in row.values())
    assert made.id not in stored and issued.secret not in stored
    assert row["token_id"] == issued.token.id and len(str(row["id_sha256"])) == 64


def test_idle_and_old_sessions_end_and_last_use_is_written_once_a_minute(store: Store, issued: IssuedToken) -> None:
    clock = Clock()
    sessions = SessionStore(store, clock)
    made = sessions.create(issued.token)
    start = int(clock.now)
    clock.now += SEEN_GRANULARITY - 1
    assert sessions.get(made.id) is not None and _rows(store)[0]["seen_at"] == start  # no write
    clock.now += 1
    assert sessions.get(made.id) is not None and _rows(store)[0]["seen_at"] == start + SEEN_GRANULARITY
    clock.now += IDLE_SECONDS + 1
    assert sessions.get(made.id) is None and _rows(store) == []  # idle: gone

    used = sessions.create(issued.token)
    for _ in range(MAX_AGE_SECONDS // (IDLE_SECONDS // 2)):
        clock.now += IDLE_SECONDS // 2
        assert sessions.get(used.id) is not None
    clock.now += IDLE_SECONDS // 2
    assert sessions.get(used.id) is None  # used every half hour, still ends after twelve hours


def test_a_revoked_token_ends_its_sessions(store: Store, issued: IssuedToken) -> None:
    sessions = SessionStore(store)
    made = sessions.create(issued.token)
    TokenRepository(store).revoke(issued.token.id)
    assert sessions.get(made.id) is None and _rows(store) == []


def test_past_the_cap_the_least_recently_used_go_first(store: Store, issued: IssuedToken,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "MAX_SESSIONS", 3)
    clock = Clock()
    sessions = SessionStore(store, clock)
    made = []
    for _ in range(5):
        clock.now += SEEN_GRANULARITY
        made.append(sessions.create(issued.token))
    assert [sessions.get(s.id) is not None for s in made] == [False, False, True, True, True]
