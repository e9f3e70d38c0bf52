"""Installer for ``sigcore run``: the Cx/Dx and Sh applications on the node, sharing one store.

``services["cx"]`` (`CxService`: ``deregister``/``push_profile``) and ``services["sh"]`` (`ShService`:
``notify``) are what the API and CLI call for HSS-initiated requests. When the S6a HSS is installed too
(``services["hss_parts"]``), Cx shares its batch worker and SQN reservation: one group commit, one SQN rule.
"""

from __future__ import annotations

from typing import Any

from sigcore.config import Config
from sigcore.diameter.aio import Node
from sigcore.hss.auth import AuthService
from sigcore.hss.cx.handlers import CxService, CxSettings
from sigcore.hss.ims.threads import Worker
from sigcore.hss.sh.handlers import ShService
from sigcore.store.batch import BatchWorker
from sigcore.store.store import Store


def install(node: Node, cfg: Config, services: dict[str, Any]) -> None:
    store = services.get("store")
    if store is None:
        store = Store.from_config(cfg.database)
        services["store"] = store
    worker = Worker(name="ims")
    s6a = services.get("hss_parts")
    auth = s6a.handlers.auth if s6a is not None else AuthService(store, BatchWorker(store), cfg.hss.ind_bits)
    cx = CxService(store, CxSettings(home_networks=(cfg.diameter.origin_realm,)), worker, auth)
    cx.install(node)
    sh = ShService(store, worker)
    sh.install(node)
    cx.on_registration_change = sh.registration_changed
    services["cx"] = cx
    services["sh"] = sh

    async def stop() -> None:
        if s6a is None:
            await auth.worker.stop()
        worker.close()

    services.setdefault("stoppers", []).append(stop)
