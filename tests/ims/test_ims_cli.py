"""`sigcore ims add/show/delete` against a SQLite store: HA1 stored, never the password."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sigcore.cli import app
from sigcore.store import Store
from sigcore.store.ims import ImsStore


def test_ims_add_show_delete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kek = "ab" * 32
    monkeypatch.setenv("SIGCORE_KEK", kek)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    config = tmp_path / "sigcore.yaml"
    config.write_text(f"database:\n  url: {url}\n")
    runner = CliRunner()
    added = runner.invoke(app, ["ims", "add", "--config", str(config), "--impi", "alice@localdomain",
                                "--impu", "sip:alice@localdomain", "--impu", "tel:+15551234",
                                "--password", "s3cret", "--scscf", "sip:127.0.0.1:6060"])
    assert added.exit_code == 0, added.output
    assert "s3cret" not in added.output
    shown = runner.invoke(app, ["ims", "show", "alice@localdomain", "--config", str(config)])
    assert "sip:alice@localdomain: not_registered" in shown.output and "tel:+15551234" in shown.output
    store = Store(url, bytes.fromhex(kek))
    user = ImsStore(store).get_impi("alice@localdomain")
    assert user.digest_ha1 == hashlib.md5(b"alice@localdomain:localdomain:s3cret").hexdigest()
    assert ImsStore(store).get_impu("tel:+15551234").preferred_scscf == "sip:127.0.0.1:6060"  # type: ignore[union-attr]
    store.close()
    both = runner.invoke(app, ["ims", "add", "--config", str(config), "--impi", "x@localdomain",
                               "--impu", "sip:x@localdomain", "--password", "p", "--imsi", "001010000000001"])
    assert both.exit_code == 2
    assert runner.invoke(app, ["ims", "delete", "alice@localdomain", "--config", str(config)]).exit_code == 0
    assert runner.invoke(app, ["ims", "show", "alice@localdomain", "--config", str(config)]).exit_code == 1


@pytest.mark.parametrize(("option", "value", "error"), [
    ("--scscf", "sip:" + "s" * 300 + ":6060", "scscf: "),
    ("--profile", "p" * 101, "profile: a name of 1 to 100 characters"),
    ("--impu", "sip:bob@localdomain", "impu: sip:bob@localdomain given twice"),
    ("--realm", "r" * 10_000, "realm: at most 255 characters"),  # was an IntegrityError traceback
])
def test_ims_add_refuses_what_the_columns_cannot_keep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: str,
                                                      value: str, error: str) -> None:
    """SQLite kept a 300-character S-CSCF or a 101-character profile name; PostgreSQL and MariaDB refused the
    row with a traceback. Now the same one-line error everywhere."""
    monkeypatch.setenv("SIGCORE_KEK", "ab" * 32)
    config = tmp_path / "sigcore.yaml"
    config.write_text(f"database:\n  url: sqlite:///{tmp_path / 'db.sqlite'}\n")
    added = CliRunner().invoke(app, ["ims", "add", "--config", str(config), "--impi", "bob@localdomain",
                                     "--impu", "sip:bob@localdomain", "--password", "p", option, value])
    assert added.exit_code == 1 and error in added.output and "Traceback" not in added.output, added.output
