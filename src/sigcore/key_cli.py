"""``sigcore key create`` and ``sigcore key rotate``: the key-encryption key (KEK) of the stored secrets.

Where the key lives (``database.key_file``, ``$SIGCORE_KEK``, else the default file beside the database)
is `sigcore.store.keysource`; what rotation does while the HSS runs is `sigcore.store.rotate`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from sigcore.cli_groups import ConfigOption, fail, refused
from sigcore.config import ConfigError, DatabaseConfig, load_config
from sigcore.store import Store, StoreError
from sigcore.store.crypto import KEK_BYTES, write_new_key_file
from sigcore.store.keysource import configured_source, default_key_file
from sigcore.store.rotate import rotate_key

key_app = typer.Typer(help="The key-encryption key of the stored Ki/OPc/OP.", no_args_is_help=True)


def _database(config: str | None) -> DatabaseConfig:
    try:
        return load_config(config).database
    except ConfigError as err:
        raise fail(str(err), 2) from None


@key_app.command("create")
def create(
    file: str | None = typer.Option(None, "--file", help="where (default: database.key_file, else the default "
                                                         "file: beside an SQLite database, else beside the "
                                                         "config file, else in the state directory)"),
    config: str | None = ConfigOption,
) -> None:
    """Create a new key file (mode 0600); an existing file is never overwritten."""
    import secrets

    if file is not None and not file.strip():  # it was taken as "no --file": the default file
        raise fail("--file: an empty path", 2)
    database = _database(config)
    path = Path(file or database.key_file or default_key_file(database))
    try:
        created = write_new_key_file(path, secrets.token_bytes(KEK_BYTES))
    except OSError as err:  # a parent that is a file, a name too long: was a traceback
        raise fail(f"cannot create the key file {path}: {err.strerror or err}", 2) from None
    if not created:
        raise fail(f"{path} exists: a key file is never overwritten (`sigcore key rotate` replaces the key)")
    typer.echo(f"created key-encryption key {path} (mode 0600): back it up, without it no stored Ki/OPc can "
               "be read")


@key_app.command("rotate")
def rotate(config: str | None = ConfigOption) -> None:
    """Re-seal every stored secret under a new key in one transaction (safe while the HSS runs); the new
    key replaces the key file's content, the old key is kept beside it as ``<file>.<time>.old``."""
    database = _database(config)
    try:
        source = configured_source(database)
        store = Store.from_config(database, auto_migrate=True, key="required")
    except StoreError as err:
        raise fail(str(err), 2) from None
    try:
        if source is None or source.path is None:
            raise fail(f"the key comes from ${database.key_env}: rotation writes the new key to a file; "
                        "put the key in one (database.key_file) first", 2)
        done = rotate_key(store, source.path)
    except StoreError as err:
        raise refused(err) from None
    finally:
        store.close()
    typer.echo(f"re-sealed the secrets of {done.resealed} subscribers under key {done.new_key_id} (was "
               f"{done.old_key_id}); the new key is in {source.path}, the old one in {done.kept} (remove it "
               "once every node runs with the new key)")


SUMMARY = "key-encryption key (create, rotate)"


def register(app: typer.Typer) -> None:
    app.add_typer(key_app, name="key")
