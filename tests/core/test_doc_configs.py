"""The configurations a newcomer copies pass `sigcore config check` as printed: the file `make run` uses, the
container's, and every sigcore configuration shown in a ```yaml block of the README or docs/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from sigcore.cli import app
from sigcore.config import Config

ROOT = Path(__file__).resolve().parents[2]
FILES = ["etc/sigcore.yaml", "deploy/container/sigcore.yaml", "deploy/container/compose-sigcore.yaml"]


def _doc_blocks() -> list[tuple[str, str]]:
    """(where, text) of each ```yaml block whose top-level keys are sigcore sections (not, say, Prometheus')."""
    found = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text()
        for block in re.finditer(r"^```yaml\n(.*?)^```", text, re.S | re.M):
            data = yaml.safe_load(block.group(1))
            if isinstance(data, dict) and set(data) <= set(Config.model_fields):
                found.append((f"{doc.relative_to(ROOT)}:{text.count(chr(10), 0, block.start()) + 1}", block.group(1)))
    return found


BLOCKS = _doc_blocks()


def test_the_docs_show_configurations() -> None:
    assert {where.split(":")[0] for where, _ in BLOCKS} >= {"docs/applications.md", "docs/charging.md", "docs/dra.md"}


@pytest.mark.parametrize(("where", "text"), [(f, (ROOT / f).read_text()) for f in FILES] + BLOCKS,
                         ids=[*FILES, *(where for where, _ in BLOCKS)])
def test_config_check_accepts_it(tmp_path: Path, where: str, text: str) -> None:
    path = tmp_path / "sigcore.yaml"
    path.write_text(text)
    checked = CliRunner().invoke(app, ["config", "check", str(path)])
    assert checked.exit_code == 0, f"{where}: {checked.output}"
    assert checked.output.startswith("ok: ")
