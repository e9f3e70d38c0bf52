"""Alembic, driven from Python: the migration scripts ship inside the package, no alembic.ini needed.

``migrate(url)`` brings any database to the newest revision. Areas that add tables add a revision file in
``sigcore/store/migrations/versions`` (see docs/store.md); `alembic_config(url)` gives them the config for
``alembic.command.revision``.

Alembic is imported when one of these runs (a store is opened, a database migrated), not with the package:
it takes about 0.4 s, and every `sigcore` command imports the store for its CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL

from sigcore.store.engine import make_engine, normalise_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(url: str | URL | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # render_as_string keeps the password; ConfigParser needs '%' doubled.
        rendered = normalise_url(url).render_as_string(hide_password=False)
        cfg.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def migrate(url: str | URL | Engine, revision: str = "head") -> None:
    """Upgrade the database at `url` (or behind an engine) to `revision`, creating it from empty if needed."""
    from alembic import command

    engine = url if isinstance(url, Engine) else make_engine(url)
    try:
        with engine.begin() as connection:
            cfg = alembic_config()
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
    finally:
        if engine is not url:
            engine.dispose()
