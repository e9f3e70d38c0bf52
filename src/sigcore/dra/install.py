"""``install(node, ctx)``: the DRA on `sigcore run`'s node when the config has a ``dra`` section.

The route table names the node's next hops, the transforms and hooks its forward callbacks, and the
relay's observer events feed the per-route/per-peer counters. The node advertises the Relay application.
SIGHUP re-imports the transform and hook modules.
"""

from __future__ import annotations

import logging
from typing import Any

from sigcore.applications import AppContext
from sigcore.config import Config, ConfigError
from sigcore.diameter.aio import Node
from sigcore.diameter.routing import InTransit
from sigcore.dra.agent import PeerAddress, Plan, RoutingAgent
from sigcore.dra.scriptmodule import ScriptLoadError
from sigcore.dra.stats import NO_ROUTE, DraStats

log = logging.getLogger("sigcore.dra")


class DraRouting:
    """The glue between a `RoutingAgent` and a node's routing hooks."""

    def __init__(self, agent: RoutingAgent, node: Node) -> None:
        self.agent = agent
        self.node = node
        self.stats: DraStats = agent.stats

    def attach(self) -> None:
        routing = self.node.routing
        if self.agent.rewrites:  # else no forward hook: the relay then skips building and re-reading InTransit
            routing.add_forward(self.forward_request, answers=False)
        if self.agent.pyform is not None or self.agent.hooks is not None:
            routing.add_forward(self.forward_answer, requests=False)
        routing.add_next_hops(self.next_hops)
        routing.add_observer(self.observe)
        self.node.settings.relay = True

    def forward_request(self, t: InTransit) -> None:
        buf = t.buf
        plan = self.agent.plan(buf, t.routing)
        t.tag = plan
        if plan.local is not None:
            raise plan.local
        if plan.frame is not buf:
            t.buf = bytearray(plan.frame)
            if plan.routing_kept and t.routing is not None:  # the node need not read them again
                t.routing = t.routing.copy()

    def next_hops(self, t: InTransit) -> list[str] | None:
        """The route table's peers, best first; None when no rule matched (the node's realm routing decides).
        Peers are named lower-case, as the node keys them. A route that names the peer the request came
        from is honoured: if that peer routes the realm back to us, its loop detection answers 3005 (a
        misconfiguration shows as such, not as 3003)."""
        plan = t.tag
        if not isinstance(plan, Plan):
            plan = t.tag = self.agent.route(t.buf, t.routing)
        return None if plan.route == NO_ROUTE else plan.peers

    def forward_answer(self, t: InTransit) -> None:
        changed = self.agent.answer_frame(t.buf)
        if changed is not None:
            t.buf = bytearray(changed)

    def observe(self, event: str, t: InTransit, peer: Any, rc: int | None, seconds: float | None) -> None:
        route = t.tag.route if isinstance(t.tag, Plan) else NO_ROUTE
        name = peer.name if peer is not None else "-"
        stats = self.stats
        if event == "sent":
            stats.relayed(route, name)
        elif event == "answered":
            stats.answered(route, name, rc, seconds)
        elif event == "failover":
            stats.failover(route, name)
        elif event == "timeout":
            stats.timeout(route, name)
        elif event == "looped":
            stats.looped(t.from_peer.name if t.from_peer is not None else "-")
        elif rc is not None:  # realm_not_served, unable_to_deliver, rejected (a hook's or redirect's answer)
            stats.local_answer(route, rc)


def install(node: Node, ctx: AppContext) -> None:
    """The routing agent on ``node`` when the config has a ``dra`` section (the application contract)."""
    cfg: Config = ctx.config
    if cfg.dra is None:
        return
    peers = {p.name: PeerAddress(p.address, p.port, p.transport) for p in cfg.diameter.peers}
    try:
        agent = RoutingAgent(cfg.dra, node.identity, node.dictionary, peers, DraStats())
    except ScriptLoadError as err:  # hooks' errors name `dra.hooks`; the transform's name its file
        raise ConfigError(str(err) if str(err).startswith("dra.") else f"dra.pyform: {err}") from None
    glue = DraRouting(agent, node)
    glue.attach()
    ctx.services.reloaders.append(agent.reload)
    log.info("routing agent: %d routes, mode %s%s%s", len(cfg.dra.routes), cfg.dra.mode,
             ", pyform transform" if agent.pyform else "", f", {len(cfg.dra.hooks)} hooks" if cfg.dra.hooks else "")
