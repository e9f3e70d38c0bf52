"""`sigcore run` on a port another program holds: one line naming the key and the address, exit 2, no
traceback; for the Diameter listener and for the API (shared by workers or not)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sigcore_process import Sigcore, fixed_keys_config, wait_exit

pytestmark = [pytest.mark.interop]
IN_USE = "is already in use (another program, or another sigcore, listens there)"


def _refused(node: Sigcore, port: int, *args: str) -> str:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        run = node.start(*args, wait=False)
        try:
            assert wait_exit(run) == 2
        finally:
            node.stop()
    text = run.log_text()
    assert "Traceback" not in text and "Errno" not in text, text
    return text


def test_a_taken_diameter_port_is_told_in_one_line(tmp_path: Path) -> None:
    node = Sigcore(tmp_path, fixed_keys_config(f"sqlite:///{tmp_path / 'hss.sqlite'}"))
    text = _refused(node, node.diameter_port)
    errors = [line for line in text.splitlines() if " ERROR " in line or line.startswith("invalid")]
    assert errors == [f"invalid configuration: diameter.listen: 127.0.0.1:{node.diameter_port} {IN_USE}"], text


def test_a_taken_api_port_with_workers_is_told_in_one_line(tmp_path: Path) -> None:
    node = Sigcore(tmp_path, fixed_keys_config(f"sqlite:///{tmp_path / 'hss.sqlite'}"))
    port = int(node.api_url.rsplit(":", 1)[1])
    text = _refused(node, port, "--workers", "2")
    assert f"invalid configuration: api.listen: 127.0.0.1:{port} {IN_USE}" in text, text


def test_a_taken_api_port_in_one_process_is_told_in_one_line(tmp_path: Path) -> None:
    node = Sigcore(tmp_path, fixed_keys_config(f"sqlite:///{tmp_path / 'hss.sqlite'}"))
    port = int(node.api_url.rsplit(":", 1)[1])
    text = _refused(node, port)  # uvicorn binds this one: its "[Errno 98]" line must not reach the log
    assert f"invalid configuration: api.listen: 127.0.0.1:{port} {IN_USE}" in text, text
