"""One engine per store, configured per backend.

SQLite is the embedded default. Each connection gets WAL (readers never block the writer), a busy
timeout (writers from other processes wait instead of failing) and foreign keys (off by default in
SQLite). ``synchronous=NORMAL`` in WAL mode survives a process crash with every commit intact; only a
power cut or kernel crash can lose the last commits, which `Store` allows raising to FULL.

Short URLs are completed with the drivers sigcore ships with: ``postgresql://`` → psycopg 3,
``mysql://`` and ``mariadb://`` → PyMySQL. MSSQL URLs pass through unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import NoSuchModuleError
from sqlalchemy.pool import StaticPool

from sigcore.store.errors import DatabaseUnavailable

SqliteSync = Literal["off", "normal", "full"]

_DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql", "mariadb": "mysql+pymysql"}
SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalise_url(url: str | URL) -> URL:
    """Fill in the driver for bare ``postgresql://``, ``mysql://`` and ``mariadb://`` URLs."""
    parsed = make_url(url)
    driver = _DEFAULT_DRIVERS.get(parsed.drivername)
    if driver:
        parsed = parsed.set(drivername=driver)
    if parsed.get_backend_name() == "mysql" and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed


def _is_memory_sqlite(url: URL) -> bool:
    return url.database in (None, "", ":memory:")


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only (it holds sealed keys, IMSIs, the audit trail);
    SQLite gives its -wal and -shm files the database file's mode. An existing file keeps its mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def _sqlite_engine(url: URL, synchronous: SqliteSync, pool_size: int) -> Engine:
    memory = _is_memory_sqlite(url)
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if memory:
        kwargs["poolclass"] = StaticPool  # one shared connection, or every thread sees its own empty DB
    else:
        _create_private(Path(str(url.database)))
        kwargs.update(pool_size=pool_size, max_overflow=pool_size * 2)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.close()

    return engine


def make_engine(url: str | URL, *, pool_size: int = 5, sqlite_synchronous: SqliteSync = "normal") -> Engine:
    """The engine for `url`, with the per-backend settings described in the module docstring."""
    parsed = normalise_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, sqlite_synchronous, pool_size)
    kwargs: dict[str, Any] = {"pool_size": pool_size, "max_overflow": pool_size * 2}
    if backend == "mysql":
        kwargs["pool_recycle"] = 3600  # MariaDB closes idle connections after wait_timeout
    # A URL naming a driver that is not installed (`mssql+pyodbc`: not shipped) fails here, before any
    # connection: one line for every command rather than an import traceback.
    try:
        return create_engine(parsed, **kwargs)
    except NoSuchModuleError:
        raise DatabaseUnavailable(f"cannot open the database {parsed!r}: SQLAlchemy has no driver "
                                  f"{parsed.drivername!r}") from None
    except ImportError as err:
        raise DatabaseUnavailable(f"cannot open the database {parsed!r}: its driver is not installed "
                                  f"({err})") from None
