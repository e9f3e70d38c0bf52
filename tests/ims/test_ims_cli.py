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
