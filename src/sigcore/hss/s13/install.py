"""Serve S13/S13' (MME/SGSN → EIR) on the node.

`install(node, cfg, services)` is the installer `sigcore.service` runs; it shares the subscriber store
other areas put in ``services["store"]`` (or opens it). `hss.eir.unknown_status` answers unknown equipment
with a status instead of 5422.
"""

from __future__ import annotations

from typing import Any

from sigcore.config import Config
from sigcore.diameter.aio import Node
from sigcore.diameter.constants import VENDOR_3GPP
from sigcore.hss.s13.eir import Eir
from sigcore.hss.s13.handlers import ECR, S13, S13Server
from sigcore.store import Store
from sigcore.store.eir import EirRepository, EquipmentStatus


def attach(node: Node, store: Store, *, unknown_equipment: EquipmentStatus | None = None) -> S13Server:
    """Serve S13 on `node` from `store`; returns the application (for tests and metrics)."""
    s13 = S13Server(Eir(EirRepository(store), unknown_equipment), node.identity)
    node.register(S13, ECR, s13.handle_ecr, VENDOR_3GPP)
    return s13


def install(node: Node, cfg: Config, services: dict[str, Any]) -> None:
    store = services.get("store")
    if store is None:
        store = services["store"] = Store.from_config(cfg.database)
    unknown = cfg.hss.eir.unknown_status
    services["s13"] = attach(node, store, unknown_equipment=EquipmentStatus(unknown) if unknown else None)
