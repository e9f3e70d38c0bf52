"""The database refusing writes (a full disk): every AIR still gets an answer, and the log gets a few lines
with a count of the rest, not a traceback per AIR.

A full disk cannot be made here without privileges; SQLite's authorizer refusing every write is the same
failure as the HSS sees it (the SQN reservation's statement fails in the driver, reads still work)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from sigcore.store import Store
from support.s6a import HssThread, air, mme, new_kek, provision, sqlite_url

pytestmark = [pytest.mark.interop]


def refuse_writes(store: Store) -> None:
    def authorizer(action: int, *_args: Any) -> int:
        writes = (sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE)
        return sqlite3.SQLITE_DENY if action in writes else sqlite3.SQLITE_OK

    event.listen(store.engine, "connect", lambda dbapi, _record: dbapi.set_authorizer(authorizer))
    store.engine.dispose()  # the pooled connections are replaced by refusing ones


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = provision(sqlite_url(tmp_path), new_kek())
    yield s
    s.close()


def test_airs_failing_in_the_database_are_answered_and_logged_once(store: Store,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    with HssThread(store) as hss, mme("mme1.localdomain", hss.port) as mme1, \
            caplog.at_level(logging.INFO):
        mme1.wait_ready()
        refuse_writes(store)
        answers = [air(mme1) for _ in range(60)]
    assert [a.result_code for a in answers] == [5012] * 60
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("sigcore")]
    tracebacks = [r for r in lines if r.exc_info]
    assert len(lines) <= 5 and not tracebacks, [r.getMessage() for r in lines]
