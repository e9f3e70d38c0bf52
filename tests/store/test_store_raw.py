"""`RawStatement` (hot statements on the DB-API cursor) and ``profile_version``, on every backend.

The raw path must read exactly what SQLAlchemy reads (types through the same processors: booleans, naive
or aware datetimes, binary keys), write what SQLAlchemy reads back, pad IN lists without changing the
answer, and sum executemany row counts; every provisioning change of a profile must bump its version.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import DateTime, bindparam, select, update
from sqlalchemy.dialects import sqlite

from sigcore.store import Store
from sigcore.store import tables as t
from sigcore.store.base import utc_now
from sigcore.store.raw import RawStatement, _bind_processor

S = t.subscribers.c
V = t.serving_state.c
JOINED = (
    select(S.id, S.imsi, S.enabled, S.created_at, t.auth_data.c.ki_enc, t.auth_data.c.sqn, V.mme_purged)
    .join(t.auth_data, t.auth_data.c.subscriber_id == S.id)
    .join(t.serving_state, V.subscriber_id == S.id)
    .where(S.imsi.in_(bindparam("imsis", expanding=True)))
    .order_by(S.id)
)
SET_MME = (
    update(t.serving_state)
    .where(V.subscriber_id == bindparam("sid"))
    .values(mme_host=bindparam("host"), mme_updated_at=bindparam("now"), mme_purged=False)
)


def _imsi(i: int) -> str:
    return f"0010100000000{i:02d}"


def _provision(store: Store, count: int) -> None:
    store.ensure_apn("internet")
    store.ensure_apn("ims")
    for i in range(count):
        store.add_subscriber(_imsi(i), ki=os.urandom(16), opc=os.urandom(16),
                             apns=["internet", "ims"] if i % 2 else ["internet"], enabled=i != 3)


def test_raw_rows_equal_sqlalchemy_rows_for_every_in_list_size(store: Store) -> None:
    _provision(store, 6)
    raw = RawStatement(JOINED)
    with store.reading() as conn:
        for n in (1, 2, 3, 5, 6):
            imsis = [_imsi(i) for i in range(n)]
            expected = [tuple(r) for r in conn.execute(JOINED, {"imsis": imsis})]
            got = raw.rows(conn, {"imsis": imsis})
            assert [tuple(r) for r in got] == expected
            assert len(got) == n
            for given in (tuple(imsis), iter(imsis), set(imsis)):  # any iterable, read in place or listed once
                assert [tuple(r) for r in raw.rows(conn, {"imsis": given})] == expected
        row = raw.rows(conn, {"imsis": [_imsi(3)]})[0]
        assert row.enabled is False and row.mme_purged is False and isinstance(row.ki_enc, bytes)


def test_raw_writes_read_back_through_sqlalchemy_and_count_matched_rows(store: Store) -> None:
    _provision(store, 4)
    raw = RawStatement(SET_MME)
    now = utc_now().replace(microsecond=0)  # MariaDB DATETIME keeps whole seconds
    ids = [store.get_subscriber(_imsi(i)).id for i in range(4)]
    with store.writing() as conn:
        params = [{"sid": sid, "host": f"mme{sid}.localdomain", "now": now} for sid in ids[:3]]
        assert raw.rowcount(conn, params) == 3
        assert raw.rowcount(conn, [{"sid": -1, "host": "x", "now": now}]) == 0
    for sid, i in zip(ids[:3], range(3), strict=True):
        mme = store.get_serving(_imsi(i)).mme
        assert mme is not None and mme.host == f"mme{sid}.localdomain" and mme.updated_at == now
        assert mme.purged is False
    assert store.get_serving(_imsi(3)).mme is None


_SQLITE = sqlite.dialect()
_DATETIME = DateTime(timezone=True).dialect_impl(_SQLITE)
_EDGES = [dt.datetime(2026, 11, 27, 7, 57, 5, 144704, tzinfo=dt.UTC), dt.datetime(2026, 1, 2, 3, 4, 5),
          dt.datetime(1999, 12, 31, 23, 59, 59, 999999), dt.datetime(2026, 11, 27, tzinfo=dt.UTC),
          dt.datetime(999, 1, 1, 0, 0, 0, 1), dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59),
          dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))), dt.date(2026, 11, 27), None]


@given(st.datetimes(timezones=st.none() | st.just(dt.UTC)) | st.dates() | st.sampled_from(_EDGES))
def test_the_sqlite_datetime_bind_processor_writes_what_sqlalchemys_writes(value: object) -> None:
    """The raw path's own formatter for SQLite's DATETIME text (a quarter of the cost) gives SQLAlchemy's
    text for every value: aware or naive, no microseconds, years before 1000, dates, None."""
    ours = _bind_processor(_DATETIME, _SQLITE)
    theirs = _DATETIME.bind_processor(_SQLITE)
    assert ours is not None and theirs is not None and ours is not theirs
    assert ours(value) == theirs(value)


def test_the_sqlite_datetime_bind_processor_refuses_what_sqlalchemys_refuses() -> None:
    ours = _bind_processor(_DATETIME, _SQLITE)
    assert ours is not None
    for bad in ("2026-11-27 07:57:05", 1795766311):
        with pytest.raises(TypeError, match="only accepts Python datetime and date objects"):
            ours(bad)


def _versions(store: Store) -> dict[str, int]:
    with store.reading() as conn:
        return {r.imsi: r.profile_version for r in conn.execute(select(S.imsi, S.profile_version))}


def test_every_profile_change_bumps_the_profile_version(store: Store) -> None:
    _provision(store, 4)  # odd subscribers list "ims", even ones only "internet"
    before = _versions(store)
    assert set(before.values()) == {0}
    store.update_subscriber(_imsi(0), msisdn="15550100000")
    store.update_subscriber(_imsi(0), apns=["internet", "ims"])
    assert _versions(store)[_imsi(0)] == 2
    store.set_auth(_imsi(2), amf=0x9000)  # keys are not the profile
    store.set_sqn(_imsi(2), 64)
    assert _versions(store)[_imsi(2)] == 0
    store.update_apn("ims", qci=6)  # every user of the APN, nobody else
    assert _versions(store) == {_imsi(0): 3, _imsi(1): 1, _imsi(2): 0, _imsi(3): 1}
    store.update_apn("internet")  # no change, no bump
    assert _versions(store)[_imsi(2)] == 0
