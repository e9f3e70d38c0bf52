"""Where the key-encryption key comes from: ``database.key_file``, else ``$SIGCORE_KEK`` (``database.key_env``),
else a default file (`default_key_file`: beside an SQLite database, else beside the config file, else in
`state_dir()`), which the commands that need a key create on first use.

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
XDG_STATE_HOME = "XDG_STATE_HOME"
SYSTEM_STATE_DIR = Path("/var/lib/sigcore")


def default_key_file(database: DatabaseConfig) -> Path:
    """Where the key lives when ``database.key_file`` is not set (docs/store.md), never relative to the
    working directory for a server database, so the same config run from anywhere finds the same key:

    * SQLite on a file: ``sigcore.key`` beside the database file;
    * else beside the config file the database section was read from;
    * else `state_dir()`.
    """
    try:
        parsed = make_url(database.url)
    except Exception:  # an unparsable URL fails later, with the engine's message
        parsed = None
    if parsed is not None and parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "",
                                                                                                 ":memory:"):
        return Path(parsed.database).parent / DEFAULT_KEY_NAME
    if database.config_dir is not None:
        return database.config_dir / DEFAULT_KEY_NAME
    return state_dir() / DEFAULT_KEY_NAME


def state_dir() -> Path:
    """``$XDG_STATE_HOME/sigcore`` when that is set, else ``/var/lib/sigcore`` for root, else
    ``~/.local/state/sigcore`` (the XDG default)."""
    xdg = os.environ.get(XDG_STATE_HOME)
    if xdg:
        return Path(xdg) / "sigcore"
    if os.geteuid() == 0:
        return SYSTEM_STATE_DIR
    return Path.home() / ".local" / "state" / "sigcore"


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
    default = default_key_file(database)
    if default.exists():
        return KeySource(f"the key file {default}", path=default)
    return None


def default_source(database: DatabaseConfig) -> KeySource:
    path = default_key_file(database)
    return KeySource(f"the key file {path}", path=path)


def missing_key_message(database: DatabaseConfig) -> str:
    return (f"no key-encryption key: database.key_file is not set, ${database.key_env} is empty and "
            f"{default_key_file(database)} does not exist (`sigcore key create` makes one)")


def create_default_key(database: DatabaseConfig) -> KeySource:
    """Create the default key file (mode 0600) and say so once, loudly: losing it loses every secret."""
    source = default_source(database)
    assert source.path is not None
    try:
        created = write_new_key_file(source.path, secrets.token_bytes(KEK_BYTES))
    except OSError as err:  # e.g. a read-only config folder: say where, and how to choose another place
        raise KeyUnavailable(f"cannot create the key file {source.path}: {err.strerror}; set database.key_file "
                             "to a writable place (`sigcore key create --file …` makes it)") from None
    if created:
        log.warning("created the key-encryption key file %s (mode 0600): back it up, without it no stored "
                    "Ki/OPc can be read", source.path.resolve())
    return source
