"""``install(node, ctx)``: metrics for ``sigcore run``.

Hooks the node's answers and peers into the process registry, starts the Redis flusher when
``metrics.redis.url`` is set (``ctx.services.metrics_flusher``), and publishes for the other areas:

* ``ctx.services.metrics``: the ``OpsEndpoint`` (``metrics_text()``, ``readiness()``);
* ``ctx.services.metrics_app``: an ASGI app answering ``/metrics``, ``/healthz``, ``/readyz``, which the API
  serves at those paths (``sigcore.api.ops``); when ``api.enabled`` is false this installer serves it
  itself on ``api.listen``, with the API's HTTP limits.

``ctx.services.db_check`` (an async ``() -> bool``), when some area provides it, feeds ``/readyz``.
"""

from __future__ import annotations

import logging

from sigcore.applications import AppContext
from sigcore.config import split_host_port
from sigcore.diameter.aio import Node
from sigcore.logging_setup import enable_message_dumps, message_dump_tap
from sigcore.metrics.diameter import NodeMetrics
from sigcore.metrics.families import REGISTRY
from sigcore.metrics.http import OpsEndpoint, asgi_app
from sigcore.metrics.redis_store import RedisFlusher, connect


def install(node: Node, ctx: AppContext) -> None:
    cfg, services = ctx.config, ctx.services
    if cfg.logging.dump_messages:
        enable_message_dumps(True)
        node.taps.append(message_dump_tap(logging.getLogger("sigcore.diameter.dump")))

    async def db_check() -> bool:
        check = services.db_check
        return True if check is None else bool(await check())

    if not cfg.metrics.enabled:
        if cfg.api.enabled:  # nothing counted, but the probes are not metrics: the API still serves them
            services.metrics_app = asgi_app(OpsEndpoint(REGISTRY, node=node, db_check=db_check, counting=False))
        return
    node_metrics = NodeMetrics(REGISTRY)
    node_metrics.attach(node)
    url = cfg.metrics.redis.url
    if url:
        flusher = RedisFlusher(REGISTRY, connect(url), cfg.metrics.redis.flush_interval, before_flush=node_metrics.poll)
        services.metrics_flusher = flusher
        services.starters.append(flusher.start)
        services.stoppers.append(flusher.stop)

    endpoint = OpsEndpoint(REGISTRY, redis=connect(url) if url else None, node=node, db_check=db_check)
    app = asgi_app(endpoint)
    services.metrics = endpoint
    services.metrics_app = app
    if not cfg.api.enabled:
        from sigcore.api.service import ApiServer, shared_by_workers

        host, port = split_host_port(cfg.api.listen, 8080)
        server = ApiServer(app, host, port, cfg.api, reuse_port=shared_by_workers(), label="metrics (/metrics, "
                           "/healthz, /readyz)")
        services.starters.append(server.start)
        services.stoppers.append(server.stop)
