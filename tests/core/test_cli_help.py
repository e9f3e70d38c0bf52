"""`sigcore --help` names every area the package installs, from each CLI module's SUMMARY, and nothing else."""

from __future__ import annotations

import importlib
import subprocess
import sys

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


def test_the_command_line_does_not_import_what_only_serving_needs() -> None:
    """FastAPI, Alembic, the SNMP agent and Redis are imported by the commands that use them: with them every
    `sigcore` command (`--help` included) took ~2 s to start here, without them ~1 s."""
    probe = ("import sys, sigcore.cli; print(' '.join(m for m in ('fastapi', 'alembic', 'redis', "
             "'sigcore.metrics.snmp.agent', 'rich.progress') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.split() == [], loaded
