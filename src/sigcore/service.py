"""Assemble and run the configured services in one process: the Diameter node with its applications,
and (when the areas are installed) the REST API and metrics."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Callable
from typing import Any

from sigcore.applications import AppContext, ApplicationError, Services, install_applications
from sigcore.config import Config
from sigcore.diameter.aio import Node, NodeSettings

log = logging.getLogger("sigcore.service")

#: Functions that attach an application (HSS interfaces, DRA...) to a node: (node, config, services) -> None.
#: Each area appends its installer here at import time of ``sigcore.service_areas``.
Installer = Callable[[Node, Config, dict[str, Any]], None]


#: Modules exposing ``install(node, cfg, services)``, in start order; missing optional areas are skipped.
INSTALLERS = (
    "sigcore.hss.s6a.install",  # S6a/S6d
    "sigcore.hss.ims.install",  # Cx/Dx, Sh
    "sigcore.hss.slh.install",
    "sigcore.hss.s13.install",
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


YOUNG_GC_THRESHOLD = 20_000  # CPython's default is 700; see settle_gc


def settle_gc() -> None:
    """Once every area has started: move everything alive (modules, the dictionary, SQLAlchemy's and
    pydantic's structures) out of the cyclic garbage collector's reach. Without it each full collection
    walks the whole heap on the event loop and stalls every request in flight for 150-350 ms (the p99 of
    bench/s6a.py). Here and not in the areas' start-up: a test process starting many of them would pin
    each one's garbage.

    Then collect the young generation only when 20,000 more container objects are alive than at the last
    collection, not 700. A request's objects die with it (no cycles): the count moves only with the
    requests in flight. At the default 700, those in flight at full load (Messages, AVP lists, coroutines
    alive for milliseconds) survived two young collections, were promoted to the oldest generation, and the
    promotions set off a full collection every 0.6 s, each walking every cached key and profile: 3-10 ms
    stalls under AIR load, 15-21 ms under ULR load with 2,000 subscribers (more with more), a share of the
    half-rate p99. At 20,000 the steady state runs no collection at all (bench/s6a.py: none in a minute of
    load); growth (caches filling: one 13 ms pause when the bench's ULRs fill the profile cache) and any
    cyclic garbage are still collected."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GC_THRESHOLD, *gc.get_threshold()[1:])


async def serve(cfg: Config, installers: list[Installer] | None = None, ready: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM: start the node, every installed area, then stop them in reverse."""
    node = build_node(cfg)
    services: dict[str, Any] = {"node": node, "stoppers": []}
    for install in installers or []:
        install(node, cfg, services)
    apps = Services()
    try:
        install_applications(cfg.applications, AppContext(cfg, node, apps))
    except ApplicationError as err:
        for stopper in reversed(services["stoppers"]):
            await stopper()
        raise SystemExit(f"sigcore: {err}") from None
    services.setdefault("starters", []).extend(apps.starters)
    services["stoppers"].extend(apps.stoppers)
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
