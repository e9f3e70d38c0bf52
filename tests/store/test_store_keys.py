"""The key-check value stored with the data, the key's sources and `rotate_key`.

A wrong key must never be used: not to open the store, not to seal a new subscriber's keys. Rotation
re-seals everything, and a second store on the same database (another process, an HSS) follows it.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from sigcore.config import DatabaseConfig, load_config
from sigcore.store import KeyUnavailable, Store, create_key_file, migrate
from sigcore.store.crypto import key_id
from sigcore.store.keysource import SYSTEM_STATE_DIR, configured_source, create_default_key, default_key_file
from sigcore.store.rotate import rotate_key

KI = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
OP = bytes.fromhex("cdc202d5123e20f62b6d676ac72cb318")
IMSI1, IMSI2, IMSI3 = "001010000000001", "001010000000002", "001010000000003"


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGCORE_KEK", raising=False)


def _count(db_url: str) -> int:
    with Store(db_url, None) as reader:
        return reader.count_subscribers()


def test_the_first_key_is_recorded_and_another_is_refused(store: Store, db_url: str, kek: bytes) -> None:
    assert store.key_check() == key_id(kek)
    store.add_subscriber(IMSI1, ki=KI, opc=OPC)
    with pytest.raises(KeyUnavailable, match=rf"the key given: wrong key-encryption key: the stored secrets are "
                                             rf"sealed under key {key_id(kek).hex()}"):
        Store(db_url, os.urandom(32))
    with Store(db_url, kek) as again:  # the right key still opens it
        assert again.get_auth_material(IMSI1).ki == KI


def test_a_database_from_before_the_check_is_checked_by_decrypting(store: Store, db_url: str, kek: bytes) -> None:
    store.add_subscriber(IMSI1, ki=KI, opc=OPC)
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM key_check"))
    with pytest.raises(KeyUnavailable, match="it does not open the stored secrets"):
        Store(db_url, os.urandom(32))
    assert store.key_check() is None  # the refused key was not recorded
    with Store(db_url, kek) as right:
        assert right.key_check() == key_id(kek)


def test_no_subscriber_is_sealed_under_a_wrong_key(tmp_path: Path, db_url: str) -> None:
    migrate(db_url)
    right = create_key_file(tmp_path / "right.key")
    with Store(db_url, right) as store:
        store.add_subscriber(IMSI1, ki=KI, opc=OPC)
    (tmp_path / "wrong.key").write_text(os.urandom(32).hex())
    database = DatabaseConfig(url=db_url, key_file=str(tmp_path / "wrong.key"))
    for need in ("required", "create"):
        with pytest.raises(KeyUnavailable, match=rf"database.key_file {tmp_path / 'wrong.key'}: wrong key"):
            Store.from_config(database, key=need)  # type: ignore[arg-type]
    with Store.from_config(database) as reader:  # reads only: it opens, but no key is usable
        assert reader.count_subscribers() == 1
        with pytest.raises(KeyUnavailable, match="wrong key-encryption key"):
            reader.add_subscriber(IMSI2, ki=KI, opc=OPC)
        with pytest.raises(KeyUnavailable, match="wrong key-encryption key"):
            reader.set_auth(IMSI1, ki=OPC)
    assert _count(db_url) == 1
    with Store(db_url, right) as store:
        assert store.get_auth_material(IMSI1).ki == KI


@pytest.mark.parametrize(("content", "message"), [
    (None, "database.key_file {path}: no such file (`sigcore key create` makes one)"),
    ("", "{path}: the key-encryption key must be 64 hex digits"),
    ("abcd" * 8, "{path}: the key-encryption key must be 64 hex digits"),
    ("not a key at all", "{path}: the key-encryption key is not hexadecimal"),
])
def test_missing_short_or_garbage_key_file_is_one_clear_line(tmp_path: Path, content: str | None,
                                                              message: str) -> None:
    path = tmp_path / "kek"
    if content is not None:
        path.write_text(content)
    database = DatabaseConfig(url=f"sqlite:///{tmp_path / 'db.sqlite'}", key_file=str(path))
    for need in ("required", "create"):
        with pytest.raises(KeyUnavailable) as refused:
            Store.from_config(database, auto_migrate=True, key=need)  # type: ignore[arg-type]
        assert str(refused.value) == message.format(path=path)
        assert "\n" not in str(refused.value) and "sigcore.store" not in str(refused.value)
    assert not (tmp_path / "sigcore.key").exists()  # a configured file that is bad is never replaced by another


def test_the_first_command_needing_a_key_creates_the_default_file(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    database = DatabaseConfig(url=f"sqlite:///{tmp_path / 'var' / 'hss.sqlite'}")
    (tmp_path / "var").mkdir()
    missing = r"no key-encryption key: database.key_file is not set, \$SIGCORE_KEK is empty"
    with Store.from_config(database, auto_migrate=True) as reader, pytest.raises(KeyUnavailable, match=missing):
        reader.add_subscriber(IMSI1, ki=KI, opc=OPC)  # reading needs no key: none is made
    assert not (tmp_path / "var" / "sigcore.key").exists()
    with caplog.at_level(logging.WARNING, "sigcore.store.keys"):
        with Store.from_config(database, auto_migrate=True, key="create") as store:
            store.add_subscriber(IMSI1, ki=KI, opc=OPC)
        with Store.from_config(database, key="create") as store:
            assert store.get_auth_material(IMSI1).opc == OPC
    key_file = tmp_path / "var" / "sigcore.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    created = [r.getMessage() for r in caplog.records]
    assert created == [f"created the key-encryption key file {key_file} (mode 0600): back it up, without it no "
                       "stored Ki/OPc can be read"]  # once


SERVER_URL = "postgresql+psycopg://hss@127.0.0.1:1/hss"  # never connected to: only where its key would live


def test_a_server_databases_default_key_is_beside_the_config_whatever_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "sigcore.yaml").write_text(f"database:\n  url: {SERVER_URL}\n")
    found = set()
    for cwd, name in ((tmp_path, "etc/sigcore.yaml"), (etc, "sigcore.yaml"), (tmp_path / "elsewhere", None)):
        cwd.mkdir(exist_ok=True)
        monkeypatch.chdir(cwd)
        found.add(default_key_file(load_config(name or str(etc / "sigcore.yaml")).database))
    assert found == {etc / "sigcore.key"}
    sqlite = tmp_path / "data" / "hss.sqlite"  # SQLite keeps its key beside the database file
    (etc / "lite.yaml").write_text(f"database:\n  url: sqlite:///{sqlite}\n")
    assert default_key_file(load_config(str(etc / "lite.yaml")).database) == sqlite.parent / "sigcore.key"


def test_without_a_config_file_the_key_is_in_the_state_directory(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert default_key_file(DatabaseConfig(url=SERVER_URL)) == tmp_path / "state" / "sigcore" / "sigcore.key"
    monkeypatch.delenv("XDG_STATE_HOME")
    expected = SYSTEM_STATE_DIR if os.geteuid() == 0 else Path.home() / ".local" / "state" / "sigcore"
    assert default_key_file(DatabaseConfig(url=SERVER_URL)) == expected / "sigcore.key"


def test_a_default_key_that_cannot_be_written_is_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    database = DatabaseConfig(url=SERVER_URL)
    database.read_from(blocker / "sigcore.yaml")  # the "config folder" is a file: the key cannot go there
    with pytest.raises(KeyUnavailable) as refused:
        create_default_key(database)
    assert str(refused.value).startswith(f"cannot create the key file {blocker / 'sigcore.key'}: ")
    assert "database.key_file" in str(refused.value) and "\n" not in str(refused.value)


def test_no_key_is_made_for_a_database_whose_key_is_lost(tmp_path: Path) -> None:
    database = DatabaseConfig(url=f"sqlite:///{tmp_path / 'hss.sqlite'}")
    with Store.from_config(database, auto_migrate=True, key="create") as store:
        store.add_subscriber(IMSI1, ki=KI, opc=OPC)
    (tmp_path / "sigcore.key").unlink()
    with pytest.raises(KeyUnavailable, match="the stored secrets need the key they were sealed under"):
        Store.from_config(database, key="create")
    assert not (tmp_path / "sigcore.key").exists()


def test_rotation_reseals_everything_and_another_store_follows(tmp_path: Path, db_url: str) -> None:
    key_file = tmp_path / "kek"
    old = create_key_file(key_file)
    database = DatabaseConfig(url=db_url, key_file=str(key_file))
    migrate(db_url)
    rotating = Store.from_config(database, key="required")
    running = Store.from_config(database, key="required")  # another process: an HSS, the API
    try:
        rotating.add_subscriber(IMSI1, ki=KI, opc=OPC)
        rotating.add_subscriber(IMSI2, ki=OPC, op=OP)
        assert running.get_auth_material(IMSI1).ki == KI
        done = rotate_key(rotating, key_file)
        assert done.resealed == 2 and done.old_key_id == key_id(old).hex()
        new = configured_source(database).read()  # type: ignore[union-attr]
        assert new != old and done.new_key_id == key_id(new).hex()
        assert done.kept.read_text().strip() == old.hex() and stat.S_IMODE(done.kept.stat().st_mode) == 0o600
        assert rotating.key_check() == key_id(new)
        # the running store reads blobs under the new key (fetched from the file), and seals under it too
        assert running.get_auth_material(IMSI2).op == OP
        running.add_subscriber(IMSI3, ki=KI, opc=OPC)
        with rotating.reading() as conn:
            blobs = [bytes(b) for b in conn.execute(text("SELECT ki_enc FROM auth_data")).scalars()]
        assert {b[1:9] for b in blobs} == {key_id(new)}
    finally:
        rotating.close()
        running.close()
    with pytest.raises(KeyUnavailable, match="wrong key-encryption key"):
        Store(db_url, old)
    with Store(db_url, new) as reopened:
        assert [reopened.get_auth_material(i).ki for i in (IMSI1, IMSI2, IMSI3)] == [KI, OPC, KI]


@pytest.mark.parametrize(("where", "said"), [("", "error: --file: an empty path"),
                                             ("c.yaml/k", "error: cannot create the key file {tmp}/c.yaml/k: "),
                                             ("k" * 300, "error: cannot create the key file {tmp}/kkk")])
def test_key_create_refuses_a_file_it_cannot_make_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              where: str, said: str) -> None:
    from typer.testing import CliRunner

    from sigcore.cli import app

    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text(f"database: {{url: 'sqlite:///{tmp_path / 'hss.sqlite'}'}}\n")
    # "" made the default key file; a path under a file or a name too long was an OSError traceback
    result = CliRunner().invoke(app, ["key", "create", "--file", where and str(tmp_path / where),
                                      "--config", str(tmp_path / "c.yaml")])
    assert result.exit_code == 2 and result.output.startswith(said.format(tmp=tmp_path)), result.output
    assert len(result.output.splitlines()) == 1 and not (tmp_path / "sigcore.key").exists()
