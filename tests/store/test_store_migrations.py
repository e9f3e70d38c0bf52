"""Alembic: from empty to head on every backend, idempotent, and head equal to the models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from sigcore.store import SchemaNotCurrent, Store, migrate
from sigcore.store.engine import make_engine
from sigcore.store.migrate import head_revision
from sigcore.store.models import Base

TABLES = {"apn_profiles", "subscribers", "subscriber_apns", "auth_data", "serving_state", "roaming_rules"}


def test_migrate_from_empty_matches_the_models(db_url: str) -> None:
    migrate(db_url)
    migrate(db_url)  # a second run is a no-op
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) >= TABLES
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert context.get_current_revision() == head_revision()
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_store_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    with pytest.raises(SchemaNotCurrent, match="none") as refused:
        Store(url, None)
    assert "sigcore.store" not in str(refused.value)  # says which command migrates, not which function
    with Store(url, os.urandom(32), auto_migrate=True) as store:
        assert store.list_apns() == []
