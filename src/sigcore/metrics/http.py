"""``/metrics``, ``/healthz`` and ``/readyz`` as a plain ASGI app, for the REST API to mount or to serve alone.

The API area can either mount ``asgi_app(endpoint)`` (FastAPI/Starlette ``app.mount("/ops", ...)`` or
route the three paths to it), or call ``endpoint.metrics_text()`` / ``endpoint.readiness()`` from its own
routes. When the API is disabled, ``sigcore.metrics.service`` serves this app itself with uvicorn.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from redis.asyncio import Redis

from sigcore.diameter.aio import Node
from sigcore.metrics.prometheus import CONTENT_TYPE, render
from sigcore.metrics.redis_store import read_snapshot
from sigcore.metrics.registry import Registry
from sigcore.metrics.snapshot import Snapshot, local_snapshot

log = logging.getLogger("sigcore.metrics.http")

DbCheck = Callable[[], Awaitable[bool]]
METRICS_DISABLED = "metrics are disabled (metrics.enabled: false)"
Scope = MutableMapping[str, Any]  # ASGI's (starlette.types, without importing starlette here)
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class OpsEndpoint:
    """What the three endpoints answer, independent of the web framework."""

    def __init__(self, registry: Registry, redis: Redis | None = None, node: Node | None = None,
                 db_check: DbCheck | None = None, prefix: str = "sigcore", counting: bool = True) -> None:
        self.registry = registry
        self.counting = counting  # False (metrics.enabled: false): /metrics is 404, the probes still answer
        self.redis = redis
        self.node = node
        self.db_check = db_check
        self.prefix = prefix

    async def snapshot(self) -> Snapshot:
        """Totals over all processes from Redis; this process's own numbers if Redis is unset or down."""
        if self.redis is not None:
            try:
                return await read_snapshot(self.redis, self.prefix)
            except Exception as err:
                log.debug("reading metrics from Redis failed: %s", err)
        return local_snapshot(self.registry)

    async def metrics_text(self) -> str:
        return render(await self.snapshot())

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Ready when the database answers and, if we dial peers, at least one of them is open."""
        checks: dict[str, Any] = {}
        ready = True
        if self.db_check is not None:
            try:
                checks["database"] = bool(await self.db_check())
            except Exception as err:
                checks["database"] = False
                checks["database_error"] = type(err).__name__
            ready = ready and checks["database"]
        if self.node is not None:
            peers = {p.name: p.state.value for p in self.node.peers.values()}
            checks["peers"] = peers
            dialled = [s.name.lower() for s in self.node.settings.peers if s.mode == "connect"]
            if dialled:
                open_ = any(self.node.peers.get(n) is not None and self.node.peers[n].is_open for n in dialled)
                checks["peers_open"] = open_
                ready = ready and open_
        return ready, checks


def asgi_app(endpoint: OpsEndpoint) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """A minimal ASGI app answering GET on paths ending in /metrics, /healthz and /readyz."""

    async def respond(send: Send, status: int, body: str, content_type: str) -> None:
        data = body.encode()
        headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(data)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path = scope.get("path", "").rstrip("/")
        if scope.get("method") not in ("GET", "HEAD"):
            await respond(send, 405, "method not allowed\n", "text/plain")
        elif path.endswith("/metrics") and not endpoint.counting:
            await respond(send, 404, json.dumps({"detail": METRICS_DISABLED}), "application/json")
        elif path.endswith("/metrics"):
            await respond(send, 200, await endpoint.metrics_text(), CONTENT_TYPE)
        elif path.endswith("/healthz"):
            await respond(send, 200, json.dumps({"status": "up"}), "application/json")
        elif path.endswith("/readyz"):
            ready, checks = await endpoint.readiness()
            await respond(send, 200 if ready else 503, json.dumps({"ready": ready, **checks}), "application/json")
        else:
            await respond(send, 404, "not found\n", "text/plain")

    return app
