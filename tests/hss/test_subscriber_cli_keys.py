"""`sigcore subscriber add` takes Ki and OPc/OP from a file (``@FILE``) or stdin (``-``), so that they need not
be command arguments (visible to every user in ``ps``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from sigcore.cli import app
from sigcore.config import load_config
from sigcore.store import Store

KI, OPC, OP = "3c9a0f5e1d2b4a6c8e0f1a3b5c7d9e1f", "a1b2c3d4e5f60718293a4b5c6d7e8f90", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "kek").write_text(os.urandom(32).hex())
    path = tmp_path / "sigcore.yaml"
    path.write_text(yaml.safe_dump({"database": {"url": f"sqlite:///{tmp_path / 'hss.sqlite'}",
                                                 "key_file": str(tmp_path / "kek")}}))
    return path


def add(config: Path, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, ["subscriber", "add", "--imsi", "001010000000042", *args, "--config", str(config)],
                              input=stdin)


def stored(config: Path) -> tuple[bytes, bytes | None, bytes | None]:
    with Store.from_config(load_config(config).database) as store:
        material = store.get_auth_material("001010000000042")
    return material.ki, material.opc, material.op


def test_keys_from_files(config: Path, tmp_path: Path) -> None:
    (tmp_path / "ki").write_text(KI + "\n")
    (tmp_path / "opc").write_text(OPC)
    result = add(config, "--ki", f"@{tmp_path / 'ki'}", "--opc", f"@{tmp_path / 'opc'}")
    assert result.exit_code == 0, result.output
    assert stored(config)[:2] == (bytes.fromhex(KI), bytes.fromhex(OPC))
    assert KI not in result.output and OPC not in result.output


def test_keys_from_stdin_in_option_order(config: Path) -> None:
    result = add(config, "--ki", "-", "--op", "-", stdin=f"{KI}\n{OP}\n")
    assert result.exit_code == 0, result.output
    ki, _opc, op = stored(config)
    assert (ki, op) == (bytes.fromhex(KI), bytes.fromhex(OP))


@pytest.mark.parametrize(("args", "stdin", "named"), [
    (["--ki", "@/nonexistent/ki", "--opc", OPC], None, "--ki @/nonexistent/ki: No such file or directory"),
    (["--ki", "-", "--opc", "-"], f"{KI}\n", "--opc -: standard input gave no line for it"),
])
def test_a_missing_source_is_named_in_one_line(config: Path, args: list[str], stdin: str | None, named: str) -> None:
    result = add(config, *args, stdin=stdin)
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {named}"
