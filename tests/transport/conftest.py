"""Fixtures for transport tests: a throw-away CA with certificates for the test identities."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.certs import TestCA


@pytest.fixture
def pki(tmp_path: Path) -> TestCA:
    return TestCA(tmp_path / "pki")
