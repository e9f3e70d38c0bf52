"""``/metrics``, ``/healthz`` and ``/readyz`` on the API listener.

The metrics area publishes its ASGI app as ``services.metrics_app``; installers run in any order (the
API's before the metrics'), so the app is looked up per request, not when the API is built.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from starlette.routing import Route

from sigcore.applications import Services

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

OPS_PATHS = ("/metrics", "/healthz", "/readyz")


class _PublishedOpsApp:
    """An ASGI app forwarding to ``services.metrics_app``; 404 while none is published (no metrics area)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        inner = self.services.metrics_app
        if inner is not None:
            await inner(scope, receive, send)
            return
        body = b'{"detail":"metrics are disabled (metrics.enabled: false)"}'
        await send({"type": "http.response.start", "status": 404,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def mount_ops(app: FastAPI, services: Services) -> None:
    ops = _PublishedOpsApp(services)
    for path in OPS_PATHS:
        app.router.routes.append(Route(path, ops, methods=["GET", "HEAD"], include_in_schema=False))
