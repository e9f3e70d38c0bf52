"""Keys at rest: encrypted in the database, bound to their row, never in a repr; the KEK's sources."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from sigcore.config import DatabaseConfig
from sigcore.store import KeyUnavailable, Store, create_key_file, load_kek, migrate

KI = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
OP = bytes.fromhex("cdc202d5123e20f62b6d676ac72cb318")


def test_keys_are_encrypted_in_the_database(store: Store, db_url: str) -> None:
    store.add_subscriber("001010000000001", ki=KI, opc=OPC)
    store.add_subscriber("001010000000002", ki=KI, op=OP)
    raw_engine = create_engine(db_url)
    with raw_engine.connect() as conn:
        rows = conn.execute(text("SELECT ki_enc, opc_enc, op_enc FROM auth_data")).all()
    raw_engine.dispose()
    blobs = [bytes(b) for row in rows for b in row if b is not None]
    assert len(blobs) == 4
    for blob in blobs:
        for secret in (KI, OPC, OP):
            assert secret not in blob and secret.hex().encode() not in blob
    assert len({bytes(row[0]) for row in rows}) == 2  # same Ki, different nonces
    material = store.get_auth_material("001010000000001")
    assert (material.ki, material.opc, material.op) == (KI, OPC, None)
    assert store.get_auth_material("001010000000002").op == OP
    assert KI.hex() not in repr(material) and "ki=" not in repr(material)


def test_the_sqlite_file_holds_no_plaintext_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'keys.sqlite'}"
    migrate(url)
    with Store(url, os.urandom(32)) as store:
        store.add_subscriber("001010000000001", ki=KI, opc=OPC)
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("keys.sqlite"))
    assert b"001010000000001" in data  # the file does hold the subscriber...
    for secret in (KI, OPC):
        assert secret not in data and secret.hex().encode() not in data  # ...but not its keys


def test_a_copied_blob_or_a_wrong_kek_does_not_decrypt(store: Store, db_url: str) -> None:
    store.add_subscriber("001010000000001", ki=KI, opc=OPC)
    store.add_subscriber("001010000000002", ki=OP, opc=OPC)
    with store.engine.begin() as conn:  # move subscriber 2's Ki onto subscriber 1
        blob = conn.execute(text("SELECT ki_enc FROM auth_data WHERE subscriber_id = 2")).scalar_one()
        conn.execute(text("UPDATE auth_data SET ki_enc = :b WHERE subscriber_id = 1"), {"b": blob})
    with pytest.raises(KeyUnavailable, match="does not decrypt"):
        store.get_auth_material("001010000000001")
    with pytest.raises(KeyUnavailable, match="wrong key-encryption key"):
        Store(db_url, os.urandom(32))  # refused at opening: the key check stored with the data differs


def test_rotating_keys(store: Store) -> None:
    store.add_subscriber("001010000000001", ki=KI, opc=OPC)
    store.set_auth("001010000000001", op=OP, amf=0x9000)
    material = store.get_auth_material("001010000000001")
    assert (material.ki, material.opc, material.op, material.amf) == (KI, None, OP, 0x9000)
    store.set_auth("001010000000001", ki=OPC.hex(), opc=OPC)
    material = store.get_auth_material("001010000000001")
    assert (material.ki, material.opc, material.op) == (OPC, OPC, None)


def test_a_store_without_kek_serves_profiles_but_refuses_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGCORE_KEK", raising=False)
    url = f"sqlite:///{tmp_path / 'nokek.sqlite'}"
    with Store.from_config(DatabaseConfig(url=url), auto_migrate=True) as store:
        with pytest.raises(KeyUnavailable, match="SIGCORE_KEK"):
            store.add_subscriber("001010000000001", ki=KI, opc=OPC)
        assert store.list_subscribers() == []


def test_kek_from_file_env_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "secret" / "kek.hex"
    key = create_key_file(key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert create_key_file(key_file) == key  # an existing file is kept, not overwritten
    assert load_kek(key_file) == key
    monkeypatch.setenv("MY_KEK", key.hex().upper())
    assert load_kek(None, "MY_KEK") == key
    monkeypatch.setenv("MY_KEK", "00" * 16)
    with pytest.raises(KeyUnavailable, match=r"\$MY_KEK.*64 hex digits"):
        load_kek(None, "MY_KEK")
    with pytest.raises(KeyUnavailable, match="cannot read"):
        load_kek(tmp_path / "missing")
    monkeypatch.delenv("MY_KEK")
    with pytest.raises(KeyUnavailable, match="no key-encryption key"):
        load_kek(None, "MY_KEK")
