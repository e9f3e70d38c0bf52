"""Fixtures of the operations tests: one wheel built per session (the wheel, Ansible and container tests);
`sigcore`, a fixed-keys config on SQLite with no key in the environment (a test module may define its own)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sigcore_process import ROOT, Sigcore, fixed_keys_config, run_checked


@pytest.fixture(scope="session")
def built_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python -m build` of this checkout: the folder holding the sdist and the wheel."""
    dist = tmp_path_factory.mktemp("dist")
    run_checked([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)])
    return dist


@pytest.fixture(scope="session")
def built_wheel(built_dist: Path) -> Path:
    return next(built_dist.glob("sigcore-*.whl"))


@pytest.fixture
def sigcore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sigcore]:
    monkeypatch.delenv("SIGCORE_KEK", raising=False)
    node = Sigcore(tmp_path, fixed_keys_config(f"sqlite:///{tmp_path / 'hss.sqlite'}"))
    try:
        yield node
    finally:
        node.stop()
