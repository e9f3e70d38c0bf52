"""`sigcore subscriber add` refuses bad input before it creates anything; the list commands say when they
list nothing (on stderr, so that a script reading stdout still gets no lines)."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from sigcore.cli import app

KI, OPC = "3c9a0f5e1d2b4a6c8e0f1a3b5c7d9e1f", "a1b2c3d4e5f60718293a4b5c6d7e8f90"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config naming no key: `add` creates the default key file beside the database, and the database."""
    path = tmp_path / "sigcore.yaml"
    path.write_text(yaml.safe_dump({"database": {"url": f"sqlite:///{tmp_path / 'hss.sqlite'}"}}))
    return path


@pytest.mark.parametrize(("args", "named"), [
    (["--imsi", "00101x", "--ki", KI, "--opc", OPC], "imsi: expected 6-15 decimal digits"),
    (["--imsi", "001010000000042", "--ki", KI[:-2], "--opc", OPC], "ki: expected 16 bytes"),
    (["--imsi", "001010000000042", "--ki", KI, "--opc", "zz" * 16], "opc: not hexadecimal"),
    (["--imsi", "001010000000042", "--ki", KI, "--opc", OPC, "--sqn", str(1 << 48)], "sqn: expected an integer"),
    (["--imsi", "001010000000042", "--ki", KI, "--opc", OPC, "--msisdn", "+1555"], "msisdn: expected 1-15"),
    (["--imsi", "001010000000042", "--ki", KI, "--opc", OPC, "--apn", "two words"], "apn: a name of 1-100"),
])
def test_add_refuses_bad_input_before_creating_the_key_file_or_database(
        config: Path, tmp_path: Path, args: list[str], named: str) -> None:
    result = CliRunner().invoke(app, ["subscriber", "add", *args, "--config", str(config)])
    assert result.exit_code == 2  # bad input, as every command: 1 is for what the store's state refuses
    assert result.output.startswith(f"error: {named}"), result.output
    assert not (tmp_path / "sigcore.key").exists() and not (tmp_path / "hss.sqlite").exists()


def test_add_with_good_input_creates_both(config: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["subscriber", "add", "--imsi", "001010000000042", "--ki", KI, "--opc", OPC,
                                      "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "sigcore.key").exists() and (tmp_path / "hss.sqlite").exists()


@pytest.mark.parametrize(("args", "said"), [
    (["subscriber", "list"], "no subscribers\n"),
    (["subscriber", "list", "--prefix", "99999"], "no subscribers with IMSI prefix 99999\n"),
    (["subscriber", "list", "--offset", "5"], "no subscribers after the first 5\n"),
    (["account", "list"], "no accounts\n"),
    (["account", "list", "--tenant", "example.org"], "no accounts in tenant example.org\n"),
])
def test_an_empty_list_says_so_on_stderr(config: Path, args: list[str], said: str) -> None:
    result = CliRunner().invoke(app, [*args, "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert (result.stdout, result.stderr) == ("", said)


def test_a_list_with_rows_adds_no_line(config: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["subscriber", "add", "--imsi", "001010000000042", "--ki", KI, "--opc", OPC,
                               "--config", str(config)]).exit_code == 0
    result = runner.invoke(app, ["subscriber", "list", "--config", str(config)])
    assert result.stdout.startswith("001010000000042") and result.stderr == ""


@pytest.mark.parametrize(("option", "value"), [("--limit", "0"), ("--limit", "-1"), ("--limit", "10001"),
                                               ("--offset", "-5"), ("--offset", str(2**64))])
def test_list_refuses_a_page_it_cannot_serve(config: Path, option: str, value: str) -> None:
    # --offset 2**64 was an OverflowError traceback; --limit 0 or -1 printed "no subscribers", 10001 gave 10000
    result = CliRunner().invoke(app, ["subscriber", "list", option, value, "--config", str(config)])
    assert result.exit_code == 2 and option in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("args", [["show", ""], ["show", "00101abc"], ["delete", " "], ["list", "--prefix", "abc"]])
def test_an_imsi_that_cannot_match_is_bad_input(config: Path, tmp_path: Path, args: list[str]) -> None:
    # was "error: no subscriber with IMSI " (exit 1) or "no subscribers with IMSI prefix abc", after making
    # the key file and the database
    result = CliRunner().invoke(app, ["subscriber", *args, "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(("error: IMSI: expected 6-15 decimal digits, got ",
                                     "error: --prefix: expected 1-15 decimal digits, got 'abc'")), result.output
    assert not (tmp_path / "hss.sqlite").exists()


def test_a_database_that_cannot_be_opened_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "hss.sqlite").mkdir()  # a directory where the database file should be
    config = tmp_path / "sigcore.yaml"
    config.write_text(yaml.safe_dump({"database": {"url": f"sqlite:///{tmp_path / 'hss.sqlite'}"}}))
    result = CliRunner().invoke(app, ["subscriber", "list", "--config", str(config)])
    # was a sqlalchemy OperationalError traceback from every command that opens the store
    assert result.exit_code == 2, result.output
    assert result.output == f"error: cannot open the database sqlite:///{tmp_path}/hss.sqlite: unable to open " \
                            "database file\n"


def _missing(module: str) -> str:
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed here")
    return module


@pytest.mark.parametrize(("url", "said"), [
    # docs/store.md names mssql+pyodbc, a driver sigcore does not ship
    ("mssql+pyodbc://sa@127.0.0.1:1/hss",
     lambda: f"its driver is not installed (No module named '{_missing('pyodbc')}')"),
    ("postgresql+nosuch://u@127.0.0.1:1/hss", lambda: "SQLAlchemy has no driver 'postgresql+nosuch'"),
])
@pytest.mark.parametrize("command", [["run"], ["demo"], ["subscriber", "list"], ["token", "list"]])
def test_a_database_driver_that_is_not_there_is_one_line(
        tmp_path: Path, url: str, said: Callable[[], str], command: list[str]) -> None:
    expected = said()
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    key_file = tmp_path / "kek.hex"
    key_file.write_text("ab" * 32)
    key_file.chmod(0o600)
    config = tmp_path / "sigcore.yaml"
    config.write_text(yaml.safe_dump({"database": {"url": url, "key_file": str(key_file)},
                                      "diameter": {"listen": [f"127.0.0.1:{port}"]}, "api": {"enabled": False}}))
    result = subprocess.run([sys.executable, "-m", "sigcore.cli", *command, "--config", str(config)],
                            capture_output=True, text=True, timeout=60)
    # was a ModuleNotFoundError / NoSuchModuleError traceback from every command that opens the store
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    shown = url.split("://")[0]
    assert result.stderr.startswith("error: cannot open the database ") and shown in result.stderr, result.stderr
    assert result.stderr.rstrip("\n").endswith(expected) and result.stderr.count("\n") == 1, result.stderr
