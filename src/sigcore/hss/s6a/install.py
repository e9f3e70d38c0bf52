"""`sigcore run`: the S6a/S6d HSS on the node; its store, notifier and batch worker shared with other areas."""

from __future__ import annotations

from dataclasses import dataclass

from sigcore.applications import AppContext
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
    handlers.application().install(node)
    return Hss(store, worker, handlers, notifier, WalCheckpointer(store, gate=worker.gate))


def install(node: Node, ctx: AppContext) -> None:
    """The HSS on `node`: ``ctx.services.store``, ``.s6a`` (for Cx) and ``.notifier`` (for the API)."""
    services = ctx.services
    hss = build_hss(node, services.shared_store(ctx.config), ctx.config)
    services.s6a = hss
    services.notifier = hss.notifier
    services.starters.append(hss.start)
    services.stoppers.append(hss.stop)
