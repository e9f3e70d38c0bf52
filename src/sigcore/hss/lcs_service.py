"""Attach SLh (GMLC → HSS routing info for location services) and S13 (MME/SGSN → EIR) to the node.

`install(node, cfg, services)` is the installer `sigcore.service` runs; it shares the subscriber store
other areas put in ``services["store"]`` (or opens it). `hss.slh.allowed_gmlcs` extends the GMLCs allowed
besides our own realm; `hss.eir.unknown_status` answers unknown equipment with a status instead of 5422.
"""

from __future__ import annotations

from typing import Any

from sigcore.config import Config
from sigcore.diameter.aio import Node
from sigcore.diameter.constants import VENDOR_3GPP
from sigcore.hss.eir import Eir
from sigcore.hss.s13 import ECR, S13, S13Server
from sigcore.hss.slh import RIR, SLH, GmlcPolicy, SlhServer
from sigcore.store import Store
from sigcore.store.eir import EirRepository, EquipmentStatus


def attach(node: Node, store: Store, *, gmlcs: GmlcPolicy | None = None,
           unknown_equipment: EquipmentStatus | None = None) -> tuple[SlhServer, S13Server]:
    """Serve SLh and S13 on `node` from `store`; returns the two applications (for tests and metrics)."""
    slh = SlhServer(store, node.identity, gmlcs)
    s13 = S13Server(Eir(EirRepository(store), unknown_equipment), node.identity)
    node.register(SLH, RIR, slh.handle_rir, VENDOR_3GPP)
    node.register(S13, ECR, s13.handle_ecr, VENDOR_3GPP)
    return slh, s13


def install(node: Node, cfg: Config, services: dict[str, Any]) -> None:
    store = services.get("store")
    if store is None:
        store = services["store"] = Store.from_config(cfg.database)
    gmlcs = GmlcPolicy.of(cfg.diameter.origin_realm, cfg.hss.slh.allowed_gmlcs)
    unknown = cfg.hss.eir.unknown_status
    services["slh"], services["s13"] = attach(
        node, store, gmlcs=gmlcs, unknown_equipment=EquipmentStatus(unknown) if unknown else None)
