"""Fixtures of the operations tests: one wheel built per session (the wheel, Ansible and container tests)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sigcore_process import ROOT, run_checked


@pytest.fixture(scope="session")
def built_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python -m build` of this checkout: the folder holding the sdist and the wheel."""
    dist = tmp_path_factory.mktemp("dist")
    run_checked([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)])
    return dist


@pytest.fixture(scope="session")
def built_wheel(built_dist: Path) -> Path:
    return next(built_dist.glob("sigcore-*.whl"))
