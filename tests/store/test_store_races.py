"""Two writers of one unique key at once, on every backend: both pass the "is it free?" check and the
second write breaks the unique index. Measured with 40 rounds of 2 threads on PostgreSQL and MariaDB, that
ended in an IntegrityError (a Diameter 5012, an API 500, a CLI traceback) or, on MariaDB, a deadlock.
The check a concurrent writer slips past is blinded here (it finds nothing) to play the loser of the race
deterministically; the row it would have found is already committed."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy

from sigcore.store import Store
from sigcore.store import ims as ims_module
from sigcore.store.ims import ImsStore, SequenceOutOfSync


def _blind(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> None:
    """``module``'s ``select``/``delete`` now addresses no row: the check (or the delete before an insert)
    misses the row a concurrent writer committed just after it."""
    real = getattr(sqlalchemy, name)
    monkeypatch.setattr(module, name, lambda *args: real(*args).where(sqlalchemy.false()))


@pytest.fixture
def ims(store: Store) -> ImsStore:
    ims = ImsStore(store)
    ims.add_user("alice@ims.example", ["sip:alice@ims.example"], password="secret")
    return ims


def test_a_pur_creating_data_another_as_created_meanwhile_is_out_of_sync(
        ims: ImsStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sh PUR at sequence 0 from two ASes at once (PostgreSQL 38 of 40, MariaDB 39 of 40 were an
    IntegrityError, a 5012): the loser is out of sync (5105), as it would have been in turn."""
    impu = ims.get_impu("sip:alice@ims.example")
    assert impu is not None
    ims.put_repository_data(impu, "svc", 0, b"<first/>")
    _blind(monkeypatch, ims_module, "select")
    with pytest.raises(SequenceOutOfSync, match="svc"):
        ims.put_repository_data(impu, "svc", 0, b"<second/>")
    monkeypatch.undo()
    assert [(r.sequence, r.data) for r in ims.repository_data(impu)] == [(0, b"<first/>")]
