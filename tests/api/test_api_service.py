"""`sigcore run` wiring: the HSS and API installers on one node, the API reachable on `api.listen`."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from interop.ports import free_tcp_port
from sigcore.api import service as api_service
from sigcore.applications import AppContext, Services
from sigcore.config import parse_config
from sigcore.diameter.aio import Node, NodeSettings
from sigcore.store.tokens import Role, TokenRepository


async def test_installed_next_to_the_hss_in_one_loop(tmp_path: Path) -> None:
    from sigcore.hss.s6a import install as hss_service

    (tmp_path / "kek").write_text("22" * 32)
    port = free_tcp_port()
    cfg = parse_config({"database": {"url": f"sqlite:///{tmp_path / 'hss.sqlite'}", "key_file": str(tmp_path / "kek")},
                        "diameter": {"listen": [f"127.0.0.1:{free_tcp_port()}"]},
                        "api": {"listen": f"127.0.0.1:{port}"}})
    node = Node(NodeSettings.from_config(cfg))
    services = Services(node=node)
    ctx = AppContext(cfg, node, services)
    hss_service.install(node, ctx)
    api_service.install(node, ctx)
    assert services.api is not None and services.api.port == port
    await node.start()
    for start in services.starters:
        await start()
    try:
        assert services.store is not None
        token = TokenRepository(services.store).create(Role.READ).secret
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            refused = await http.get("/api/v1/peers")
            peers = await http.get("/api/v1/peers", headers={"Authorization": f"Bearer {token}"})
    finally:
        for stop in reversed(services.stoppers):
            await stop()
        await node.stop()
    assert refused.status_code == 401
    assert peers.status_code == 200 and peers.json() == []


@pytest.mark.parametrize("raced", [False, True], ids=["taken", "taken-after-the-probe"])
async def test_a_busy_port_fails_the_start_with_a_clear_error(tmp_path: Path, raced: bool,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    if raced:  # another program takes the port between the probe and uvicorn's bind: uvicorn's exit, caught
        monkeypatch.setattr(api_service.ApiServer, "_probe", lambda _self: None)

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        cfg = parse_config({"database": {"url": f"sqlite:///{tmp_path / 'hss.sqlite'}"},
                            "api": {"listen": f"127.0.0.1:{taken.getsockname()[1]}"}})
        services = Services()
        from sigcore.store import migrate

        migrate(cfg.database.url)
        api_service.install(None, AppContext(cfg, Node(NodeSettings.from_config(cfg)), services))
        expected = "could not start" if raced else rf"api.listen: 127.0.0.1:{taken.getsockname()[1]} is already in use"
        with pytest.raises(RuntimeError, match=expected):
            await services.starters[0]()
