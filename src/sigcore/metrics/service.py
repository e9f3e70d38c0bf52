"""``install(node, cfg, services)``: metrics for ``sigcore run``.

Hooks the node's answers and peers into the process registry, starts the Redis flusher when
``metrics.redis.url`` is set, and publishes for the other areas:

* ``services["metrics"]``: the ``OpsEndpoint`` (``metrics_text()``, ``readiness()``);
* ``services["metrics_app"]``: an ASGI app answering ``/metrics``, ``/healthz``, ``/readyz`` for the API
  to mount; when ``api.enabled`` is false this installer serves it itself on ``api.listen``;
* ``services["set_log_level"]``: change the log level at run time (for an API endpoint).

``services["db_check"]`` (an async ``() -> bool``), when some area provides it, feeds ``/readyz``.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.routing import Route

from sigcore.config import Config, split_host_port
from sigcore.diameter.aio import Node
from sigcore.logging_setup import enable_message_dumps, message_dump_tap, set_level
from sigcore.metrics.diameter import NodeMetrics
from sigcore.metrics.families import REGISTRY
from sigcore.metrics.http import OpsEndpoint, StandaloneServer, asgi_app
from sigcore.metrics.redis_store import RedisFlusher, connect


def install(node: Node, cfg: Config, services: dict[str, Any]) -> None:
    services.setdefault("starters", [])
    services.setdefault("stoppers", [])
    services["set_log_level"] = set_level
    if cfg.logging.dump_messages:
        enable_message_dumps(True)
        node.taps.append(message_dump_tap(logging.getLogger("sigcore.diameter.dump")))
    if not cfg.metrics.enabled:
        return
    node_metrics = NodeMetrics(REGISTRY)
    node_metrics.attach(node)
    services["node_metrics"] = node_metrics
    url = cfg.metrics.redis.url
    if url:
        flusher = RedisFlusher(REGISTRY, connect(url), cfg.metrics.redis.flush_interval, before_flush=node_metrics.poll)
        services["metrics_flusher"] = flusher
        services["starters"].append(flusher.start)
        services["stoppers"].append(flusher.stop)

    async def db_check() -> bool:
        check = services.get("db_check")
        return True if check is None else bool(await check())

    endpoint = OpsEndpoint(REGISTRY, redis=connect(url) if url else None, node=node, db_check=db_check)
    app = asgi_app(endpoint)
    services["metrics"] = endpoint
    services["metrics_app"] = app
    api = services.get("api")
    if api is not None:  # the REST API (installed before this area) serves them on its port
        for path in ("/metrics", "/healthz", "/readyz"):
            api.app.router.routes.append(Route(path, _AsgiEndpoint(app), methods=["GET", "HEAD"]))
    if not cfg.api.enabled:
        host, port = split_host_port(cfg.api.listen, 8080)
        server = StandaloneServer(app, host, port)
        services["metrics_server"] = server
        services["starters"].append(server.start)
        services["stoppers"].append(server.stop)


class _AsgiEndpoint:
    """An ASGI app as a Starlette route's endpoint: Starlette calls a plain function with a Request, and
    anything else as ASGI (a Mount would redirect ``/healthz`` to ``/healthz/``)."""

    __slots__ = ("app",)

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)
