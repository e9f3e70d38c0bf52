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
    gone = runner.invoke(app, ["ims", "show", "alice@localdomain", "--config", str(config)])
    assert gone.exit_code == 1 and gone.output.startswith("error: ") and "alice@localdomain" in gone.output, gone.output


@pytest.mark.parametrize(("option", "value", "code", "error"), [
    ("--scscf", "sip:" + "s" * 300 + ":6060", 2, "--scscf: 1 to 255 characters, got 309"),
    ("--profile", "p" * 101, 2, "--profile: 1 to 100 characters, got 101"),
    ("--impu", "sip:bob@localdomain", 2, "impu: sip:bob@localdomain given twice"),
    ("--realm", "r" * 10_000, 2, "--realm: 1 to 255 characters, got 10000"),  # was an IntegrityError traceback
])
def test_ims_add_refuses_what_the_columns_cannot_keep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: str,
                                                      value: str, code: int, error: str) -> None:
    """SQLite kept a 300-character S-CSCF or a 101-character profile name; PostgreSQL and MariaDB refused the
    row with a traceback. Now the same one-line error everywhere."""
    monkeypatch.setenv("SIGCORE_KEK", "ab" * 32)
    config = tmp_path / "sigcore.yaml"
    config.write_text(f"database:\n  url: sqlite:///{tmp_path / 'db.sqlite'}\n")
    added = CliRunner().invoke(app, ["ims", "add", "--config", str(config), "--impi", "bob@localdomain",
                                     "--impu", "sip:bob@localdomain", "--password", "p", option, value])
    assert (added.exit_code, added.output) == (code, f"error: {error}\n")


@pytest.mark.parametrize(("credentials", "error"), [
    (["--imsi", ""], "--imsi: expected 6-15 decimal digits"),  # was an IMPI with no credentials at all, exit 0
    (["--imsi", "00101x"], "--imsi: expected 6-15 decimal digits"),
    (["--password", ""], "--password: 1 to 256 characters"),  # was the HA1 of an empty password
    (["--password", "p", "--realm", ""], "--realm: 1 to 255 characters, got 0"),  # was the default realm
    (["--password", "p", "--realm", "ims example"], "--realm: printable ASCII without spaces, got 'ims example'"),
    (["--password", "p", "--realm", "ims\nexample"], "--realm: printable ASCII without spaces, got 'ims\\nexample'"),
    (["--password", "p", "--profile", " "], "--profile: printable ASCII without spaces or '/', got ' '"),
    (["--password", "p", "--profile", "gold/x"], "--profile: printable ASCII without spaces or '/', got 'gold/x'"),
    (["--password", "p", "--scscf", ""], "--scscf: 1 to 255 characters, got 0"),
])
def test_ims_add_checks_credentials_realm_and_profile_as_the_api_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, credentials: list[str], error: str) -> None:
    monkeypatch.setenv("SIGCORE_KEK", "ab" * 32)
    config = tmp_path / "sigcore.yaml"
    config.write_text(f"database:\n  url: sqlite:///{tmp_path / 'db.sqlite'}\n")
    added = CliRunner().invoke(app, ["ims", "add", "--config", str(config), "--impi", "bob@localdomain",
                                     "--impu", "sip:bob@localdomain", *credentials])
    assert (added.exit_code, added.output) == (2, f"error: {error}\n")
    assert not (tmp_path / "db.sqlite").exists()  # refused before the store is created


EXPECTED = {"--impi": "is not a private identity: expected username@realm (TS 23.003 §13.3)",
            "--impu": "is not a public identity: expected a sip:, sips: or tel:+digits URI (TS 23.003 §13.4)"}


@pytest.mark.parametrize(("option", "value"), [
    ("--impi", "alice"),  # TS 23.003 §13.3: an NAI, username@realm
    ("--impi", "@localdomain"),
    ("--impi", "alice@"),
    ("--impi", "a@b@localdomain"),
    ("--impi", "alice@local domain"),
    ("--impi", "alice\n@localdomain"),
    ("--impi", "sip:alice@localdomain"),
    ("--impu", "alice@localdomain"),  # §13.4: a SIP or tel URI
    ("--impu", "sip:"),
    ("--impu", "http://alice@localdomain"),
    ("--impu", "tel:alice"),
    ("--impu", "tel:+"),
    ("--impu", "SIP:alice@localdomain"),
    ("--impu", ""),
])
def test_ims_add_refuses_identities_not_in_their_ts_23003_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               option: str, value: str) -> None:
    """Any text was stored as an IMPI or IMPU; an IMPU without its scheme never matches what a CSCF asks for."""
    monkeypatch.setenv("SIGCORE_KEK", "ab" * 32)
    value = value.replace("\\n", "\n")
    config = tmp_path / "sigcore.yaml"
    config.write_text(f"database:\n  url: sqlite:///{tmp_path / 'db.sqlite'}\n")
    identities = {"--impi": "bob@localdomain", "--impu": "sip:bob@localdomain", option: value}
    added = CliRunner().invoke(app, ["ims", "add", "--config", str(config), "--password", "p",
                                     *(part for pair in identities.items() for part in pair)])
    assert added.exit_code == 2, added.output
    assert added.output == f"error: {option}: {value!r} {EXPECTED[option]}\n"
    assert not (tmp_path / "db.sqlite").exists()  # refused before the store is created


def test_ims_add_takes_the_forms_of_ts_23003(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGCORE_KEK", "ab" * 32)
    config = tmp_path / "sigcore.yaml"
    config.write_text(f"database:\n  url: sqlite:///{tmp_path / 'db.sqlite'}\n")
    uris = ["sips:bob@ims.example.org;transport=tls", "sip:+15551234;user=phone@ims.example.org", "sip:[::1]:5060",
            "tel:+1-555-1234", "tel:1234;phone-context=ims.example.org"]
    added = CliRunner().invoke(app, ["ims", "add", "--config", str(config), "--impi",
                                     "001010000000001@ims.mnc001.mcc001.3gppnetwork.org", "--password", "p",
                                     *(part for uri in uris for part in ("--impu", uri))])
    assert added.exit_code == 0, added.output


@pytest.mark.parametrize("command", ["show", "delete"])
@pytest.mark.parametrize("impi", ["", "  "])
def test_ims_show_and_delete_refuse_a_blank_impi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str,
                                                 impi: str) -> None:
    """It was looked up: "error: no IMPI " with nothing after it, exit 1 (and the database created)."""
    monkeypatch.setenv("SIGCORE_KEK", "ab" * 32)
    config = tmp_path / "sigcore.yaml"
    config.write_text(f"database:\n  url: sqlite:///{tmp_path / 'db.sqlite'}\n")
    result = CliRunner().invoke(app, ["ims", command, impi, "--config", str(config)])
    assert (result.exit_code, result.output) == (2, f"error: IMPI: an empty identity, got {impi!r}\n")
    assert not (tmp_path / "db.sqlite").exists()
