"""Where the key-encryption key comes from: ``database.key_file``, else ``$SIGCORE_KEK`` (``database.key_env``),
else a default file beside the database, which the commands that need a key create on first use.

Every message names the file or variable and says what to do, never a Python function; none shows the key.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from sigcore.config import DatabaseConfig
from sigcore.store.crypto import KEK_BYTES, load_kek, parse_kek, write_new_key_file
from sigcore.store.errors import KeyUnavailable

log = logging.getLogger("sigcore.store.keys")
DEFAULT_KEY_NAME = "sigcore.key"


def default_key_file(url: str) -> Path:
    """``<database file's folder>/sigcore.key`` for SQLite on a file; ``var/sigcore.key`` otherwise."""
    try:
        parsed = make_url(url)
    except Exception:  # an unparsable URL fails later, with the engine's message
        parsed = None
    if parsed is not None and parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "",
                                                                                                 ":memory:"):
        return Path(parsed.database).parent / DEFAULT_KEY_NAME
    return Path("var") / DEFAULT_KEY_NAME


@dataclass(frozen=True)
class KeySource:
    """One place a KEK is read from; `describe` is how messages name it."""

    describe: str
    path: Path | None = None
    env: str | None = None

    def read(self) -> bytes:
        if self.path is not None:
            return load_kek(self.path, None)
        assert self.env is not None
        value = os.environ.get(self.env, "")
        return parse_kek(value, self.describe)

    def reread(self) -> list[bytes]:
        """The key(s) the source holds now (a rotated key file); for `SecretBox`'s reload."""
        return [self.read()]


def configured_source(database: DatabaseConfig) -> KeySource | None:
    """The source that holds the key, or None when nothing is configured and the default file is absent."""
    if database.key_file:
        path = Path(database.key_file)
        if not path.exists():
            raise KeyUnavailable(f"database.key_file {path}: no such file (`sigcore key create` makes one)")
        return KeySource(f"database.key_file {path}", path=path)
    if database.key_env and os.environ.get(database.key_env):
        return KeySource(f"${database.key_env}", env=database.key_env)
    default = default_key_file(database.url)
    if default.exists():
        return KeySource(f"the key file {default}", path=default)
    return None


def default_source(database: DatabaseConfig) -> KeySource:
    path = default_key_file(database.url)
    return KeySource(f"the key file {path}", path=path)


def missing_key_message(database: DatabaseConfig) -> str:
    return (f"no key-encryption key: database.key_file is not set, ${database.key_env} is empty and "
            f"{default_key_file(database.url)} does not exist (`sigcore key create` makes one)")


def create_default_key(database: DatabaseConfig) -> KeySource:
    """Create the default key file (mode 0600) and say so once, loudly: losing it loses every secret."""
    source = default_source(database)
    assert source.path is not None
    if write_new_key_file(source.path, secrets.token_bytes(KEK_BYTES)):
        log.warning("created the key-encryption key file %s (mode 0600): back it up, without it no stored "
                    "Ki/OPc can be read", source.path.resolve())
    return source
