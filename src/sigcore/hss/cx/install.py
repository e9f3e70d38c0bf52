"""`sigcore run`: Cx/Dx on the node (``ctx.services.cx``: `CxService`, whose ``deregister``/``push_profile``
the API calls). With the S6a HSS installed (``ctx.services.s6a``), Cx shares its batch worker and SQN
reservation: one group commit, one SQN rule for an IMS and an EPS authentication of one USIM."""

from __future__ import annotations

from sigcore.applications import AppContext
from sigcore.diameter.aio import Node
from sigcore.hss.auth import AuthService
from sigcore.hss.cx.handlers import CxService, CxSettings
from sigcore.store.batch import BatchWorker


def install(node: Node, ctx: AppContext) -> None:
    cfg, services = ctx.config, ctx.services
    store = services.shared_store(cfg)
    s6a = services.s6a
    auth = s6a.handlers.auth if s6a is not None else AuthService(store, BatchWorker(store), cfg.hss.ind_bits)
    cx = CxService(store, CxSettings(home_networks=(cfg.diameter.origin_realm,)), auth=auth, node=node)
    cx.application().install(node)
    services.cx = cx

    async def stop() -> None:
        if s6a is None:
            await auth.worker.stop()
        cx.worker.close()

    services.stoppers.append(stop)
