"""`sigcore run` with the default layout (API enabled): `/metrics`, `/healthz`, `/readyz` answer on the API listener."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import httpx

from interop.ports import free_tcp_port
from sigcore.config import parse_config
from sigcore.service import installers, serve


async def answers(tmp_path: Path, metrics: dict[str, Any], *paths: str) -> list[httpx.Response]:
    """GET each of `paths` from `sigcore run`'s services (in this process) on a fresh SQLite store."""
    (tmp_path / "kek").write_text("22" * 32)
    port = free_tcp_port()
    cfg = parse_config({"database": {"url": f"sqlite:///{tmp_path / 'hss.sqlite'}", "key_file": str(tmp_path / "kek")},
                        "diameter": {"listen": [f"127.0.0.1:{free_tcp_port()}"]},
                        "api": {"listen": f"127.0.0.1:{port}"}, "metrics": metrics})
    ready = asyncio.Event()
    task = asyncio.create_task(serve(cfg, installers(), ready))
    try:
        await asyncio.wait_for(ready.wait(), 30)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            return [await http.get(path) for path in paths]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_ops_paths_answer_on_the_api_listener(tmp_path: Path) -> None:
    metrics, health, readiness, api = await answers(
        tmp_path, {"snmp": {"listen": f"127.0.0.1:{free_tcp_port()}"}}, "/metrics", "/healthz", "/readyz",
        "/api/v1/peers")
    assert metrics.status_code == 200 and "sigcore_" in metrics.text
    assert health.status_code == 200 and health.json() == {"status": "up"}
    assert readiness.status_code == 200 and readiness.json()["ready"] is True
    assert api.status_code == 401  # the API itself still needs a token


async def test_health_and_readiness_answer_with_metrics_disabled(tmp_path: Path) -> None:
    """``metrics.enabled: false`` turns counting off, not the liveness and readiness probes (docs/operations.md:
    `/healthz` is 200 while the process runs; the container's HEALTHCHECK asks it). All three were 404."""
    metrics, health, readiness = await answers(tmp_path, {"enabled": False}, "/metrics", "/healthz", "/readyz")
    assert health.status_code == 200 and health.json() == {"status": "up"}
    assert readiness.status_code == 200 and readiness.json()["ready"] is True
    assert readiness.json()["database"] is True
    assert metrics.status_code == 404 and metrics.json() == {"detail": "metrics are disabled (metrics.enabled: false)"}


async def test_the_standalone_ops_server_has_the_api_deadlines() -> None:
    """With ``api.enabled: false`` the metrics area serves the three paths itself, with the same limits."""
    from sigcore.api.service import ApiServer
    from sigcore.config import ApiConfig

    async def ops(scope: dict[str, object], receive: object, send: object) -> None:  # never reached
        raise AssertionError("a request without its headers reached the app")

    server = ApiServer(ops, "127.0.0.1", 0, ApiConfig(header_timeout=1.0), label="metrics")
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # and never the end of the headers
        started = asyncio.get_running_loop().time()
        assert await asyncio.wait_for(reader.read(), 5) == b""
        assert asyncio.get_running_loop().time() - started < 3
        writer.close()
    finally:
        await server.stop()


async def test_the_standalone_ops_server_stops_with_a_client_that_does_not_read() -> None:
    """A scraper stuck mid-response (its socket full) must not hold `sigcore run`'s stop: the standalone
    server bounds its graceful shutdown as the API server does (before: it waited for the response forever)."""
    import socket

    from sigcore.api.limits import SHUTDOWN_GRACE
    from sigcore.api.service import ApiServer
    from sigcore.config import ApiConfig

    body = b"x" * (32 << 20)  # far more than the loopback socket buffers hold

    async def big(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})

    server = ApiServer(big, "127.0.0.1", 0, ApiConfig(), label="metrics")
    await server.start()
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(("127.0.0.1", server.port))
    stuck.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")  # and never reads the answer
    try:
        await asyncio.sleep(0.5)  # the response is being written, and blocks
        started = asyncio.get_running_loop().time()
        await asyncio.wait_for(server.stop(), SHUTDOWN_GRACE + 10)
        assert asyncio.get_running_loop().time() - started < SHUTDOWN_GRACE + 5
    finally:
        stuck.close()
