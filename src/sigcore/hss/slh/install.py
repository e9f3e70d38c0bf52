"""`sigcore run`: SLh (GMLC → HSS routing info for location services) on the node.

It shares the subscriber store (``ctx.services.store``, opened if no area has yet). `hss.slh.allowed_gmlcs`
extends the GMLCs allowed besides our own realm.
"""

from __future__ import annotations

from sigcore.applications import AppContext
from sigcore.diameter.aio import Node
from sigcore.hss.slh.handlers import GmlcPolicy, SlhServer


def install(node: Node, ctx: AppContext) -> None:
    cfg = ctx.config
    slh = SlhServer(ctx.services.shared_store(cfg), node.identity,
                    GmlcPolicy.of(cfg.diameter.origin_realm, cfg.hss.slh.allowed_gmlcs))
    slh.application().install(node)
    ctx.services.slh = slh
