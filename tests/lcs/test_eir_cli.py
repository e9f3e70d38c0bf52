"""`sigcore eir add/list/delete/check/history` against a store named by --config."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from sigcore.hss.s13 import cli as eir_cli

RUNNER = CliRunner()


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    config = tmp_path / "sigcore.yaml"
    config.write_text(f"database:\n  url: sqlite:///{tmp_path / 'db.sqlite'}\n")
    monkeypatch.setenv("SIGCORE_KEK", "00" * 32)
    app = typer.Typer()
    eir_cli.register(app)

    def run(*args: str, code: int = 0) -> str:
        result = RUNNER.invoke(app, ["eir", *args, "--config", str(config)])
        assert result.exit_code == code, result.output
        return result.output

    return run


def test_add_check_delete_history(cli) -> None:  # type: ignore[no-untyped-def]
    assert "prefix 35209900* -> blacklisted" in cli("add", "--prefix", "35209900", "--status", "blacklisted")
    # 15 digits: the check digit is verified and dropped
    assert "2: imei 35209900176148 -> whitelisted" in cli("add", "--imei", "352099001761481",
                                                           "--status", "whitelisted")
    cli("add", "--imei", "35209900176148", "--imsi", "001010000000001", "--status", "greylisted",
        "--comment", "paired")
    cli("add", "--imei", "352099001761482", "--status", "whitelisted", code=2)  # bad check digit
    cli("add", "--prefix", "35209900", "--status", "whitelisted", code=1)  # taken
    cli("add", "--status", "whitelisted", code=2)  # neither --imei nor --prefix
    assert len(cli("list").splitlines()) == 3

    assert "blacklisted (1: prefix" in cli("check", "35209900000000")
    assert "whitelisted (2:" in cli("check", "35209900176148")
    assert "greylisted (3:" in cli("check", "35209900176148", "--imsi", "001010000000001", "--record")
    assert "unknown equipment" in cli("check", "11111111111111", code=3)
    assert "greylisted" in cli("check", "11111111111111", "--unknown-status", "greylisted")

    cli("delete", "1")
    cli("delete", "1", code=1)
    assert "unknown equipment" in cli("check", "35209900000000", code=3)
    history = cli("history")
    assert "35209900176148 sv=- imsi=001010000000001 greylisted rule=3 from=cli" in history
    assert "1 of 1 checks" in history
    assert "0 of 0 checks" in cli("history", "--imei", "11111111111111")
    # '' listed every IMEI's checks, as if --imei were not given
    assert cli("history", "--imei", "", code=2).startswith("error: imei: ")


@pytest.mark.parametrize("args", [("delete", str(2**64)), ("delete", "0"), ("history", "--limit", "0"),
                                  ("history", "--limit", "-1"), ("history", "--limit", "1001")])
def test_an_id_or_limit_out_of_range_is_refused_at_the_argument(cli, args: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    # delete 2**64 was an OverflowError traceback; --limit 0 listed nothing, 1001 was cut to 1000 silently
    out = cli(*args, code=2)
    assert ("rule_id" if args[0] == "delete" else "--limit") in out


@pytest.mark.parametrize("imsi", ["00101x", "", "1" * 16])
def test_check_refuses_an_imsi_that_is_not_one(cli, imsi: str) -> None:  # type: ignore[no-untyped-def]
    # it was taken as is: "unknown equipment" (exit 3), and --record put it in the history
    assert "imsi: expected 6-15 decimal digits" in cli("check", "35209900176148", "--imsi", imsi, "--record", code=2)
    assert "0 of 0 checks" in cli("history")


def test_add_refuses_a_comment_that_would_split_the_listing(cli) -> None:  # type: ignore[no-untyped-def]
    # "a\nb" was stored: `eir list` then printed half a rule on a line of its own
    said = cli("add", "--prefix", "35", "--status", "blacklisted", "--comment", "a\nb", code=2)
    assert said.startswith("error: comment: printable characters only")
    assert "no EIR rules" in cli("list")
