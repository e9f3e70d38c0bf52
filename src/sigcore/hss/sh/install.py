"""`sigcore run`: Sh on the node (``ctx.services.sh``: `ShService`, whose ``notify`` sends PNRs). With Cx
installed, a registration change a SAR makes is notified to the application servers subscribed to it."""

from __future__ import annotations

from sigcore.applications import AppContext
from sigcore.diameter.aio import Node
from sigcore.hss.cx.handlers import CxService
from sigcore.hss.sh.handlers import ShService


def install(node: Node, ctx: AppContext) -> None:
    services = ctx.services
    sh = ShService(services.shared_store(ctx.config), node=node)
    sh.application().install(node)
    services.sh = sh
    if isinstance(services.cx, CxService):
        services.cx.on_registration_change = sh.registration_changed

    async def stop() -> None:
        sh.worker.close()

    services.stoppers.append(stop)
