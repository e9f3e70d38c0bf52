"""Files holding secrets: the SQLite database is created 0600 (with its -wal/-shm), and a key file others can
read is warned about (not refused: see `warn_if_readable_by_others`)."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from sigcore.store import Store, migrate
from sigcore.store.crypto import load_kek


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_database_is_private_even_with_a_lax_umask(tmp_path: Path) -> None:
    database = tmp_path / "sub" / "hss.sqlite"
    previous = os.umask(0o022)
    try:
        migrate(f"sqlite:///{database}")
        with Store(f"sqlite:///{database}", os.urandom(32)) as store:
            store.add_apn("internet")
            modes = {p.name: mode(p) for p in database.parent.iterdir() if p.name.startswith("hss.sqlite")}
    finally:
        os.umask(previous)
    assert set(modes) >= {"hss.sqlite", "hss.sqlite-wal"}
    assert modes == dict.fromkeys(modes, 0o600)


def test_an_existing_database_keeps_its_mode(tmp_path: Path) -> None:
    database = tmp_path / "hss.sqlite"
    database.touch(mode=0o640)
    database.chmod(0o640)
    migrate(f"sqlite:///{database}")
    assert mode(database) == 0o640


def test_a_key_file_others_can_read_is_warned_about_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    key_file = tmp_path / "kek.hex"
    key_file.write_text("ab" * 32)
    key_file.chmod(0o644)
    with caplog.at_level(logging.WARNING, "sigcore.store.crypto"):
        assert load_kek(key_file) == bytes.fromhex("ab" * 32)
        load_kek(key_file)
    warnings = [r.getMessage() for r in caplog.records if r.name == "sigcore.store.crypto"]
    assert warnings == [f"the key-encryption key file {key_file} has mode 644: other users can read it; "
                        f"chmod 600 {key_file}"]
    assert "ab" * 32 not in caplog.text
    caplog.clear()
    key_file.chmod(0o600)
    with caplog.at_level(logging.WARNING, "sigcore.store.crypto"):
        load_kek(key_file)
    assert not caplog.records


def test_a_binary_key_file_is_refused_in_words(tmp_path: Path) -> None:
    """It was a UnicodeDecodeError traceback from every command that opens the store."""
    from sigcore.store.errors import KeyUnavailable

    key_file = tmp_path / "kek"
    key_file.write_bytes(b"\xbd\xff" + bytes(range(200)))
    key_file.chmod(0o600)
    with pytest.raises(KeyUnavailable, match=f"{key_file}: the key-encryption key is not hexadecimal"):
        load_kek(key_file)


def test_a_key_file_that_is_a_directory_is_one_error_without_a_mode_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """It warned first that the directory's mode 755 let others read "the key file" (`chmod 600` a directory)."""
    from sigcore.store.errors import KeyUnavailable

    tmp_path.chmod(0o755)
    with caplog.at_level(logging.WARNING), \
            pytest.raises(KeyUnavailable, match=f"cannot read the key-encryption key file {tmp_path}: Is a directory"):
        load_kek(tmp_path)
    assert not caplog.records
