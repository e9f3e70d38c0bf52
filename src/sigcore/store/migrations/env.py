"""Alembic environment: runs online against the connection `sigcore.store.migrate` hands over, or a URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from sigcore.store.engine import make_engine
from sigcore.store.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite has no real ALTER TABLE
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("sigcore migrations run online only (sigcore.store.migrate)")
run_migrations_online()
