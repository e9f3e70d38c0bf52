"""What `sigcore run` checks on this machine before starting anything: the files the configuration names;
and `bind_failure`, what it says when a listener then cannot start.

Each failure is a `ConfigError` naming the key and the path, so the operator gets one line, not a traceback
from deep inside SQLite or ``ssl``.
"""

from __future__ import annotations

import errno
import os
import re
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
    if tls.cert and tls.key and tls.ca:
        _tls_usable(tls.cert, tls.key, tls.ca)


def _tls_usable(cert: str, key: str, ca: str) -> None:
    """What OpenSSL says of files that are readable but not a certificate, a key or a CA, in one line."""
    import ssl

    from sigcore.diameter.transport.tls import EncryptedKey, server_context

    try:
        ssl.create_default_context(cafile=ca)
    except ssl.SSLError as err:
        raise ConfigError(f"diameter.tls.ca: {ca} holds no PEM CA certificate ({err.reason or err})") from None
    try:
        server_context(cert, key, ca)
    except EncryptedKey as err:
        raise ConfigError(f"diameter.tls.key: {key}: {err}") from None
    except ssl.SSLError as err:
        if err.reason == "KEY_VALUES_MISMATCH":
            raise ConfigError(f"diameter.tls.key: {key} is not the private key of {cert}") from None
        raise ConfigError(f"diameter.tls.cert, diameter.tls.key: {cert} and {key} are not a PEM certificate "
                          f"and its private key ({err.reason or err})") from None


def bind_failure(err: OSError, where: str | None = None) -> str:
    """Why a listener could not start on ``where`` (host:port), in the operator's terms. Without ``where``
    the address is read from asyncio's text, which names it as a Python tuple."""
    if where is None:
        found = re.search(r"\('([^']*)', (\d+)", str(err))
        where = f"{found[1]}:{found[2]}" if found else "the configured address"
    if err.errno == errno.EADDRINUSE:
        return f"{where} is already in use (another program, or another sigcore, listens there)"
    if err.errno == errno.EADDRNOTAVAIL:
        return f"{where} is not an address of this machine"
    if err.errno == errno.EACCES:
        return f"{where}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
    return f"{where}: {err.strerror or err}"
