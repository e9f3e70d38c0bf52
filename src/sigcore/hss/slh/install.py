"""Serve SLh (GMLC → HSS routing info for location services) on the node.

`install(node, cfg, services)` is the installer `sigcore.service` runs; it shares the subscriber store
other areas put in ``services["store"]`` (or opens it). `hss.slh.allowed_gmlcs` extends the GMLCs allowed
besides our own realm.
"""

from __future__ import annotations

from typing import Any

from sigcore.config import Config
from sigcore.diameter.aio import Node
from sigcore.diameter.constants import VENDOR_3GPP
from sigcore.hss.slh.handlers import RIR, SLH, GmlcPolicy, SlhServer
from sigcore.store import Store


def attach(node: Node, store: Store, *, gmlcs: GmlcPolicy | None = None) -> SlhServer:
    """Serve SLh on `node` from `store`; returns the application (for tests and metrics)."""
    slh = SlhServer(store, node.identity, gmlcs)
    node.register(SLH, RIR, slh.handle_rir, VENDOR_3GPP)
    return slh


def install(node: Node, cfg: Config, services: dict[str, Any]) -> None:
    store = services.get("store")
    if store is None:
        store = services["store"] = Store.from_config(cfg.database)
    services["slh"] = attach(node, store, gmlcs=GmlcPolicy.of(cfg.diameter.origin_realm, cfg.hss.slh.allowed_gmlcs))
