"""`sigcore run` with a ``charging`` section: the engine, its JSON-RPC listeners, the plan scheduler and Gy."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sigcore.charging.api import ChargingApi
from sigcore.charging.engine import ChargingEngine
from sigcore.charging.jsonrpc import Authenticator, HttpJsonRpc, JsonRpcDispatcher, TcpJsonRpc
from sigcore.charging.posts import Poster
from sigcore.charging.repo import ChargingStore, Clock, system_clock
from sigcore.charging.scheduler import PlanScheduler
from sigcore.config import ChargingConfig, ConfigError, split_host_port
from sigcore.preflight import bind_failure
from sigcore.store.base import StoreBase

if TYPE_CHECKING:
    from sigcore.applications import AppContext
    from sigcore.charging.gy import GyService
    from sigcore.diameter.aio import Node

log = logging.getLogger("sigcore.charging")
DEFAULT_PORT = 2080
READ_ONLY_PREFIXES = ("Get", "CoreSv1.")


def token_authenticator(store: StoreBase) -> Authenticator:
    """The REST API's bearer tokens: read-only tokens may call Get* and CoreSv1 methods."""
    from sigcore.store.tokens import Role, TokenRepository, forbidden

    tokens = TokenRepository(store)

    def refusal(secret: str | None, method: str) -> tuple[int, str] | None:
        token = tokens.authenticate(secret) if secret else None
        if token is None:
            return 401, "a valid bearer token is required"
        short = method.partition(".")[2]
        needed = Role.READ if short.startswith("Get") or method.startswith("CoreSv1.") else Role.PROVISION
        return None if token.role.allows(needed) else (403, forbidden(needed, token))

    return refusal


@dataclass
class Charging:
    """The running charging engine's parts."""

    cfg: ChargingConfig
    engine: ChargingEngine
    api: ChargingApi
    dispatcher: JsonRpcDispatcher
    scheduler: PlanScheduler
    authenticate: Authenticator | None = None
    servers: list[asyncio.AbstractServer] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)
    gy: GyService | None = None

    async def start(self) -> None:
        if self.gy is not None:
            await self.gy.start()
        http = HttpJsonRpc(self.dispatcher, self.authenticate)
        await self._listen("http", "charging.listen", self.cfg.listen, DEFAULT_PORT, http.serve)
        if self.cfg.listen_tcp:
            tcp = TcpJsonRpc(self.dispatcher)
            await self._listen("tcp", "charging.listen_tcp", self.cfg.listen_tcp, 2012, tcp.serve)
        self.scheduler.start()
        log.info("charging JSON-RPC on %s (POST /jsonrpc)%s", self.cfg.listen,
                 f", raw TCP on {self.cfg.listen_tcp}" if self.cfg.listen_tcp else "")

    async def _listen(self, kind: str, key: str, where: str, default_port: int,
                      serve: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]) -> None:
        """Listen on ``where``; a port taken or an address not ours is a ConfigError naming ``key``."""
        host, port = split_host_port(where, default_port)
        try:
            server = await asyncio.start_server(serve, host, port)
        except OSError as err:
            for started in self.servers:
                started.close()
            raise ConfigError(f"{key}: {bind_failure(err, f'{host}:{port}')}") from None
        self.servers.append(server)
        self.ports[kind] = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.gy is not None:
            await self.gy.stop()
        await self.scheduler.stop()
        for server in self.servers:
            server.close()
            await server.wait_closed()
        self.servers.clear()
        self.dispatcher.close()
        self.engine.poster.close()


def build_charging(store: StoreBase, cfg: ChargingConfig, clock: Clock = system_clock) -> Charging:
    engine = ChargingEngine(ChargingStore(store, clock), Poster(), cfg.http_post_url or "")
    api = ChargingApi(engine, cfg.default_tenant)
    return Charging(cfg, engine, api, JsonRpcDispatcher(api), PlanScheduler(engine, cfg.scheduler_interval),
                    token_authenticator(store) if cfg.auth else None)


def install(node: Node, ctx: AppContext) -> None:
    """The charging engine in `sigcore run` when the config has a ``charging`` section."""
    cfg = ctx.config
    if cfg.charging is None:
        return
    services = ctx.services
    charging = build_charging(services.shared_store(cfg), cfg.charging)
    if cfg.charging.gy.enabled:
        from sigcore.charging.gy import install_gy

        hss = services.s6a  # on SQLite its batch worker runs the CCR batches too (one connection, one gate)
        shared = hss.worker if hss is not None and hss.worker.inline else None
        install_gy(node, charging, cfg.charging.gy, shared)
    services.charging = charging
    services.starters.append(charging.start)
    services.stoppers.append(charging.stop)
