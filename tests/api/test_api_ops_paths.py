"""`sigcore run` with the default layout (API enabled): `/metrics`, `/healthz`, `/readyz` answer on the API listener."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx

from interop.ports import free_tcp_port
from sigcore.config import parse_config
from sigcore.service import installers, serve


async def test_ops_paths_answer_on_the_api_listener(tmp_path: Path) -> None:
    (tmp_path / "kek").write_text("22" * 32)
    port = free_tcp_port()
    cfg = parse_config({"database": {"url": f"sqlite:///{tmp_path / 'hss.sqlite'}", "key_file": str(tmp_path / "kek")},
                        "diameter": {"listen": [f"127.0.0.1:{free_tcp_port()}"]},
                        "api": {"listen": f"127.0.0.1:{port}"},
                        "metrics": {"snmp": {"listen": f"127.0.0.1:{free_tcp_port()}"}}})
    ready = asyncio.Event()
    task = asyncio.create_task(serve(cfg, installers(), ready))
    try:
        await asyncio.wait_for(ready.wait(), 30)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            metrics = await http.get("/metrics")
            health = await http.get("/healthz")
            readiness = await http.get("/readyz")
            api = await http.get("/api/v1/peers")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert metrics.status_code == 200 and "sigcore_" in metrics.text
    assert health.status_code == 200 and health.json() == {"status": "up"}
    assert readiness.status_code == 200 and readiness.json()["ready"] is True
    assert api.status_code == 401  # the API itself still needs a token


async def test_the_standalone_ops_server_has_the_api_deadlines() -> None:
    """With ``api.enabled: false`` the metrics area serves the three paths itself, with the same limits."""
    from sigcore.config import ApiConfig
    from sigcore.metrics.http import StandaloneServer

    async def ops(scope: dict[str, object], receive: object, send: object) -> None:  # never reached
        raise AssertionError("a request without its headers reached the app")

    server = StandaloneServer(ops, "127.0.0.1", 0, ApiConfig(header_timeout=1.0))
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
