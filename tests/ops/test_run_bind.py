"""`sigcore run` on a port another program holds: one line naming the key and the address, exit 2, no
traceback; for the Diameter listener and for the API (shared by workers or not)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sigcore_process import Sigcore, fixed_keys_config, wait_exit

from interop.ports import free_tcp_port

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


def test_a_taken_charging_port_is_told_in_one_line(tmp_path: Path) -> None:
    """It was a rich traceback ending in asyncio's OSError, exit 1."""
    port = free_tcp_port()
    node = Sigcore(tmp_path, fixed_keys_config(f"sqlite:///{tmp_path / 'hss.sqlite'}",
                                               charging={"listen": f"127.0.0.1:{port}"}))
    text = _refused(node, port)
    assert f"invalid configuration: charging.listen: 127.0.0.1:{port} {IN_USE}" in text, text


def test_a_taken_metrics_port_without_the_api_is_told_in_one_line(tmp_path: Path) -> None:
    """With ``api.enabled: false`` the metrics server binds ``api.listen`` itself: uvicorn's SystemExit went
    to 'Task exception was never retrieved' with two tracebacks, exit 3."""
    node = Sigcore(tmp_path, fixed_keys_config(f"sqlite:///{tmp_path / 'hss.sqlite'}", api={"enabled": False}))
    port = int(node.api_url.rsplit(":", 1)[1])
    text = _refused(node, port)
    assert f"invalid configuration: api.listen: 127.0.0.1:{port} {IN_USE}" in text, text


def test_two_workers_without_the_api_share_the_metrics_port(tmp_path: Path) -> None:
    """Each worker serves /metrics on ``api.listen`` (SO_REUSEPORT, as the API's): before, the second
    worker's metrics server found the port taken by the first, and its SystemExit was logged as a task
    exception with two tracebacks."""
    import httpx

    node = Sigcore(tmp_path, fixed_keys_config(f"sqlite:///{tmp_path / 'hss.sqlite'}", api={"enabled": False}))
    try:
        run = node.start("--workers", "2")
        for index in (0, 1):
            run.wait_for(rf"\[worker {index}\] metrics \(/metrics, /healthz, /readyz\) on", timeout=30)
        assert httpx.get(f"{node.api_url}/metrics", timeout=10).status_code == 200
        assert "Traceback" not in run.log_text(), run.log_text()
    finally:
        node.stop()
