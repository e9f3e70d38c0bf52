"""Assemble and run the configured services in one process: the Diameter node with its applications,
and (when the areas are installed) the REST API and metrics."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Callable
from typing import Any

from sigcore.config import Config
from sigcore.diameter.aio import Node, NodeSettings

log = logging.getLogger("sigcore.service")

#: Functions that attach an application (HSS interfaces, DRA...) to a node: (node, config, services) -> None.
#: Each area appends its installer here at import time of ``sigcore.service_areas``.
Installer = Callable[[Node, Config, dict[str, Any]], None]


#: Modules exposing ``install(node, cfg, services)``, in start order; missing optional areas are skipped.
INSTALLERS = (
    "sigcore.hss.service",  # S6a/S6d
    "sigcore.hss.ims_service",  # Cx/Dx, Sh
    "sigcore.hss.lcs_service",  # SLh, S13
    "sigcore.api.service",
    "sigcore.metrics.service",
    "sigcore.toolkit.mirror",
)


def installers() -> list[Installer]:
    import importlib

    found: list[Installer] = []
    for name in INSTALLERS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name and name.startswith(err.name):
                continue
            raise
        found.append(module.install)
    return found


def build_node(cfg: Config) -> Node:
    return Node(NodeSettings.from_config(cfg))


def settle_gc() -> None:
    """Once every area has started: move everything alive (modules, the dictionary, SQLAlchemy's and
    pydantic's structures) out of the cyclic garbage collector's reach. Without it each full collection
    walks the whole heap on the event loop and stalls every request in flight for 150-350 ms (the p99 of
    bench/s6a.py). Here and not in the areas' start-up: a test process starting many of them would pin
    each one's garbage."""
    gc.collect()
    gc.freeze()


async def serve(cfg: Config, installers: list[Installer] | None = None, ready: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM: start the node, every installed area, then stop them in reverse."""
    node = build_node(cfg)
    services: dict[str, Any] = {"node": node, "stoppers": []}
    for install in installers or []:
        install(node, cfg, services)
    await node.start()
    for start in services.get("starters", []):
        await start()
    settle_gc()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    log.info("sigcore %s (%s) running", cfg.diameter.origin_host, cfg.diameter.origin_realm)
    if ready is not None:
        ready.set()
    await stop.wait()
    log.info("stopping")
    for stopper in reversed(services["stoppers"]):
        await stopper()
    await node.stop()
