"""`sigcore --help` names every area the package installs, from each CLI module's SUMMARY, and nothing else."""

from __future__ import annotations

import importlib

from typer.testing import CliRunner

from sigcore.cli import AREAS, app


def test_root_help_names_every_installed_area() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "2000"})
    assert result.exit_code == 0
    help_text = " ".join(result.output.split())
    summaries = [importlib.import_module(name).SUMMARY for name in AREAS]
    assert len(summaries) == len(AREAS)  # every area says what it is
    for summary in summaries:
        assert summary in help_text, summary
    for command in ("run", "dra", "account", "cdr", "key", "bench"):
        assert f" {command} " in help_text, command
