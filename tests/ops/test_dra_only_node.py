"""A node without the HSS (`hss.enabled: false`: a DRA, or charging alone) on a new database: `sigcore run`
migrates the schema itself, as its own message says, whichever area opens the store first (here the API)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sigcore_process import Sigcore, fixed_keys_config

pytestmark = [pytest.mark.interop]


def test_a_dra_only_node_with_the_api_starts_on_a_new_database(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGCORE_KEK", raising=False)
    node = Sigcore(tmp_path, fixed_keys_config(f"sqlite:///{tmp_path / 'dra.sqlite'}", hss={"enabled": False},
                                               dra={"routes": []}))
    try:
        node.start()
        assert httpx.get(f"{node.api_url}/healthz", timeout=10).status_code == 200
        created = node.command("token", "create", "--role", "read")
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip().splitlines()[-1]
        answer = httpx.get(f"{node.api_url}/api/v1/peers", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert answer.status_code == 200, answer.text
    finally:
        node.stop()
