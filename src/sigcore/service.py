"""Assemble and run the configured services in one process: the Diameter node with its applications,
and (when the areas are installed) the REST API and metrics."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable

from sigcore.applications import AppContext, ApplicationError, Installer, Services, install_applications
from sigcore.config import Config, ConfigError
from sigcore.diameter.aio import Node, NodeSettings
from sigcore.preflight import bind_failure
from sigcore.signals import handle_stop_and_reload
from sigcore.workers import Worker
from sigcore.workers.relay import SiblingRelay

log = logging.getLogger("sigcore.service")


#: Modules exposing ``install(node, ctx: AppContext)`` (the contract of the ``applications`` key), in start
#: order; missing optional areas are skipped.
INSTALLERS = (
    "sigcore.hss.s6a.install",  # S6a/S6d
    "sigcore.hss.cx.install",  # Cx/Dx
    "sigcore.hss.sh.install",  # after Cx: Sh hears of its registration changes
    "sigcore.hss.slh.install",
    "sigcore.hss.s13.install",
    "sigcore.dra.install",  # the routing agent, when the config has a dra section
    "sigcore.charging.service",  # Gy/Ro and CGrateS JSON-RPC, when configured
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


def build_node(cfg: Config, worker: Worker | None = None) -> Node:
    """The node of ``cfg``; a dictionary file that cannot be used stops the start with its name. As one of
    several workers: listeners shared (SO_REUSEPORT), and only worker 0 dials the configured peers (one
    connection per peer, as from a single process; the others reach it through the relay)."""
    from sigcore.diameter.dictionary import DictionaryError

    try:
        settings = NodeSettings.from_config(cfg)
    except DictionaryError as err:  # `sigcore run` prints a ConfigError as one line and exits 2
        raise ConfigError(f"diameter.dictionaries: {str(err).removeprefix('diameter.dictionaries: ')}") from None
    if worker is not None:
        settings.reuse_port = True
        if worker.index > 0:
            for peer in settings.peers:
                peer.mode = "accept"
    return Node(settings)


YOUNG_GC_THRESHOLD = 20_000  # CPython's default is 700; see settle_gc


def settle_gc() -> None:
    """Once every area has started: move everything alive (modules, the dictionary, SQLAlchemy's and
    pydantic's structures) out of the cyclic garbage collector's reach. Without it each full collection
    walks the whole heap on the event loop and stalls every request in flight (the tail latency of
    bench/s6a.py, docs/performance.md). Here and not in the areas' start-up: a test process starting many
    of them would pin each one's garbage.

    Then collect the young generation only when 20,000 more container objects are alive than at the last
    collection, not 700. A request's objects die with it (no cycles): the count moves only with the
    requests in flight. At the default 700, those in flight at full load (Messages, AVP lists, coroutines
    alive for milliseconds) survived two young collections, were promoted to the oldest generation, and the
    promotions set off frequent full collections, each walking every cached key and profile. At 20,000 the
    steady state runs no collection at all; growth (caches filling) and any cyclic garbage are still
    collected."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GC_THRESHOLD, *gc.get_threshold()[1:])


def reload(reloaders: list[Callable[[], None]]) -> None:
    """SIGHUP: what can be reloaded while running is (the DRA's transforms and hooks); the rest of the
    configuration is read at start only, which the log says rather than dying (SIGHUP's default action)."""
    if not reloaders:
        log.info("SIGHUP: nothing to reload in this node (the DRA's transforms and hooks are; other "
                 "configuration changes need a restart)")
        return
    log.info("SIGHUP: reloading")
    for reloader in reloaders:
        reloader()


async def serve(cfg: Config, installers: list[Installer] | None = None, ready: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM: start the node, every installed area, then stop them in reverse."""
    worker = Worker.from_environment()
    node = build_node(cfg, worker)
    services = Services(node=node)
    ctx = AppContext(cfg, node, services)
    for install in installers or []:
        if not cfg.hss.enabled and install.__module__.startswith("sigcore.hss."):
            continue  # hss.enabled: false, e.g. a DRA-only node
        install(node, ctx)
    if worker is not None:
        relay = SiblingRelay(node, worker)
        services.starters.append(relay.start)
        services.stoppers.append(relay.stop)
    try:
        install_applications(cfg.applications, ctx)
    except ApplicationError:  # a ConfigError naming `applications`
        for stopper in reversed(services.stoppers):
            await stopper()
        raise
    try:
        await node.start()
    except OSError as err:  # a port taken or an address not ours: the operator's to fix, in one line
        raise ConfigError(f"diameter.listen: {bind_failure(err)}") from None
    for start in services.starters:
        await start()
    settle_gc()
    stop = asyncio.Event()
    handle_stop_and_reload(stop, lambda: reload(services.reloaders))
    log.info("sigcore %s (%s) running", cfg.diameter.origin_host, cfg.diameter.origin_realm)
    if ready is not None:
        ready.set()
    await stop.wait()
    log.info("stopping")
    await node.stop()  # first: its handlers still have what they use while it finishes the requests in flight
    for stopper in reversed(services.stoppers):
        await stopper()
