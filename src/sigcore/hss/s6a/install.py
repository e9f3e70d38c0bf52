"""`sigcore run`: attach the S6a/S6d HSS to the node and share its store and notifier with other areas."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sigcore.config import Config
from sigcore.diameter.aio import Node
from sigcore.hss.auth import AuthService
from sigcore.hss.s6a.handlers import S6aHandlers
from sigcore.hss.s6a.notify import HssNotifier
from sigcore.hss.s6a.registration import ProfileCache
from sigcore.hss.s6a.roaming import RoamingPolicyCheck
from sigcore.store import Store
from sigcore.store.batch import BatchWorker
from sigcore.store.checkpoint import WalCheckpointer


@dataclass
class Hss:
    """The running HSS's parts, for tests and benchmarks that build one without `sigcore run`."""

    store: Store
    worker: BatchWorker
    handlers: S6aHandlers
    notifier: HssNotifier
    checkpointer: WalCheckpointer | None = None

    async def start(self) -> None:
        self.worker.start()
        if self.checkpointer is not None:
            self.checkpointer.start()

    async def stop(self) -> None:
        await self.notifier.close()
        await self.worker.stop()
        if self.checkpointer is not None:
            self.checkpointer.stop()


def build_hss(node: Node, store: Store, cfg: Config) -> Hss:
    """Wire the services and register the S6a handlers on `node` (call before ``node.start()``)."""
    worker = BatchWorker(store)
    profiles = ProfileCache(store)
    notifier = HssNotifier(node, store, profiles, timeout=cfg.hss.mme_peer_timeout)
    roaming = RoamingPolicyCheck(cfg.hss.home_plmns, store.list_roaming_rules)
    auth = AuthService(store, worker, cfg.hss.ind_bits)
    handlers = S6aHandlers(store, worker, auth, profiles, roaming, notifier, cfg.hss.max_vectors)
    handlers.register(node)
    return Hss(store, worker, handlers, notifier, WalCheckpointer(store, gate=worker.gate))


def install(node: Node, cfg: Config, services: dict[str, Any]) -> None:
    """The HSS on `node`; ``services["store"]`` and ``services["hss"]`` (the notifier) for the API."""
    store = services.get("store")
    if store is None:
        store = services["store"] = Store.from_config(cfg.database, auto_migrate=True)
    hss = build_hss(node, store, cfg)
    services["hss"] = hss.notifier
    services["hss_parts"] = hss
    services.setdefault("starters", []).append(hss.start)
    services.setdefault("stoppers", []).append(hss.stop)
