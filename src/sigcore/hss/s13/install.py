"""`sigcore run`: S13/S13' (MME/SGSN → EIR) on the node.

It shares the subscriber store (``ctx.services.store``, opened if no area has yet). `hss.eir.unknown_status`
answers unknown equipment with a status instead of 5422.
"""

from __future__ import annotations

from sigcore.applications import AppContext
from sigcore.diameter.aio import Node
from sigcore.hss.s13.eir import Eir
from sigcore.hss.s13.handlers import S13Server
from sigcore.store.eir import EirRepository, EquipmentStatus


def install(node: Node, ctx: AppContext) -> None:
    unknown = ctx.config.hss.eir.unknown_status
    eir = Eir(EirRepository(ctx.services.shared_store(ctx.config)), EquipmentStatus(unknown) if unknown else None)
    s13 = S13Server(eir, node.identity)
    s13.application().install(node)
    ctx.services.s13 = s13
