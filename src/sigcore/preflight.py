"""What `sigcore run` checks on this machine before starting anything: the files the configuration names.

Each failure is a `ConfigError` naming the key and the path, so the operator gets one line, not a traceback
from deep inside SQLite or ``ssl``.
"""

from __future__ import annotations

import os
from pathlib import Path

from sigcore.config import Config, ConfigError


def _readable(key: str, path: str) -> None:
    try:
        with open(path, "rb"):
            pass
    except OSError as err:
        raise ConfigError(f"{key}: cannot read {path}: {err.strerror}") from None


def _sqlite_writable(url: str) -> None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(str(parsed.database))
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise ConfigError(f"database.url: the database file {path} is not writable by this user")
    # SQLite's WAL and journal files live next to the database: its folder must be writable too
    folder = next((p for p in (path.parent, *path.parent.parents) if p.exists()), Path("."))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"database.url: the folder {folder} of the database file {path} is not writable "
                          f"(SQLite keeps its journal there)")


def check_files(cfg: Config) -> None:
    """Raise `ConfigError` for the first file the configuration names that this process cannot use."""
    _sqlite_writable(cfg.database.url)
    tls = cfg.diameter.tls
    for name in ("cert", "key", "ca"):
        path = getattr(tls, name)
        if path:
            _readable(f"diameter.tls.{name}", path)
