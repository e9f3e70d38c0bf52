"""The DRA's decisions for one relayed message, on its wire bytes (sans-IO): which peers a request may go
to and in what order, what the transforms and hooks make of it, or the answer the DRA gives itself
(redirect, a hook's Result-Code). `sigcore.dra.install` connects these to the node's routing hooks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from struct import Struct
from typing import Any

from sigcore.diameter.answers import Identity
from sigcore.diameter.application import Rejected
from sigcore.diameter.dictionary import Dictionary
from sigcore.diameter.message import Message
from sigcore.dra.config import DraConfig
from sigcore.dra.hooks import HookChain
from sigcore.dra.pyform import PyformTransform
from sigcore.dra.redirect import diameter_uri, redirect_rejection
from sigcore.dra.routes import RequestFacts, Route, RouteTable, facts_of_frame, facts_of_header
from sigcore.dra.script_errors import ScriptErrors
from sigcore.dra.scriptmodule import ScriptModule
from sigcore.dra.stats import NO_ROUTE, DraStats


@dataclass(slots=True)
class PeerAddress:
    """Where a configured peer listens (for Redirect-Host)."""

    address: str
    port: int
    transport: str = "tcp"


REALM_NOT_SERVED = 3003
_APP_CMD = Struct(">II")  # header words 1-2: flags|command code, application id


@dataclass(slots=True)
class Plan:
    """What to do with one request: send ``frame`` to ``peers`` in order (no rule matched: ``route`` is
    NO_ROUTE and the node's own realm routing decides), or answer it here with ``local`` (the node builds the
    answer from it). ``routing_kept``: ``frame`` was changed, but in no AVP the relay routes on."""

    frame: bytes | bytearray
    peers: list[str]
    route: str = NO_ROUTE
    local: Rejected | None = None
    routing_kept: bool = False


_NO_PLAN = Plan(b"", [])


class RoutingAgent:
    def __init__(self, cfg: DraConfig, identity: Identity, dictionary: Dictionary,
                 peers: Mapping[str, PeerAddress] | None = None, stats: DraStats | None = None) -> None:
        self.cfg = cfg
        self.identity = identity
        self.dictionary = dictionary
        self.peers = {k.lower(): v for k, v in (peers or {}).items()}
        self.stats = stats or DraStats()
        self.errors = ScriptErrors(cfg.error_log_interval, on_error=lambda script: self.stats.script_errors(script, 1))
        self.table = RouteTable.from_config(cfg.routes)
        self.pyform: PyformTransform | None = None
        if cfg.pyform is not None:
            p = cfg.pyform
            self.pyform = PyformTransform(ScriptModule(p.directory, p.module, p.function, p.reload_check), dictionary,
                                          self.errors)
        self.hooks = HookChain(cfg.hooks, dictionary, self.errors) if cfg.hooks else None
        #: (flags|command, application) -> the plan of a table that reads only the header and gives one peer
        self._fixed: dict[tuple[int, int], Plan] = {}

    def reload(self) -> None:
        """SIGHUP: re-import the transform and hook modules (a module that fails keeps its running code)."""
        if self.pyform is not None:
            self.pyform.script.reload()
        if self.hooks is not None:
            self.hooks.reload()

    # --- requests ------------------------------------------------------------------------------------
    @property
    def rewrites(self) -> bool:
        """Whether requests may change or be answered here (transform, hooks, redirect): else `route` is all."""
        return self.pyform is not None or self.hooks is not None or self.cfg.mode == "redirect"

    def route(self, frame: bytes | bytearray, routing: Any = None) -> Plan:
        """The route table's decision alone, for a node without rewrites. ``routing``: what the node has read
        of the request (Destination-Realm/-Host), so that a table that needs no more reads no AVP again."""
        if not self.table.routes:
            return _NO_PLAN
        header_only = self.table.reads == "header"
        if header_only:
            key = _APP_CMD.unpack_from(frame, 4)
            cached = self._fixed.get(key)
            if cached is not None:
                return cached
        peers, route = self.table.candidates(self._facts(frame, routing))
        if route is None:
            return Plan(b"", peers)
        plan = Plan(b"", peers[:self.cfg.max_attempts], route.name)
        if header_only and len(peers) == 1 and len(self.table.match(facts_of_header(frame))) == 1:
            self._fixed[key] = plan  # one rule, one peer: the same answer for every such request, no draw
        return plan

    def _facts(self, frame: bytes | bytearray, routing: Any) -> RequestFacts:
        reads = self.table.reads
        if reads == "header":
            return facts_of_header(frame)
        if reads == "destination" and routing is not None:
            return facts_of_header(frame, routing.destination_realm, routing.destination_host)
        return facts_of_frame(frame)

    def plan(self, frame: bytes | bytearray, routing: Any = None) -> Plan:
        """Route, transform and hook one request that is not for local delivery; ``plan.frame`` is ``frame``
        itself when nothing changed it. Raises ValueError if its AVP headers do not fit (the caller answers
        5014/3009 as for any malformed message)."""
        routed = self.route(frame, routing)
        peers, label = list(routed.peers), routed.route
        routing_kept = False
        if self.pyform is not None:
            changed = self.pyform.apply(frame)
            if changed is not None:
                frame, routing_kept = changed, not self.pyform.routing_changed
        if self.hooks is not None:
            request = Message.decode(bytes(frame))
            outcome = self.hooks.run(request, peers)
            peers = outcome.peers
            if outcome.local_answer is not None:
                code, text = outcome.local_answer
                return Plan(frame, [], label, Rejected(code, text or ""))
            if outcome.changed:
                frame, routing_kept = request.encode(), False
        if self.cfg.mode == "redirect":  # a redirect agent never relays: no route is 3003
            local = self.redirect(peers) if peers else Rejected(REALM_NOT_SERVED, "no route for this request")
            return Plan(frame, [], label, local)
        return Plan(frame, peers[:self.cfg.max_attempts], label, routing_kept=routing_kept)

    def redirect(self, peers: list[str]) -> Rejected:
        uris = [diameter_uri(p, a.port, a.transport) if (a := self.peers.get(p)) is not None else
                f"aaa://{p};transport=tcp;protocol=diameter" for p in peers]
        return redirect_rejection(uris, self.cfg.redirect_max_cache_time)

    # --- answers -------------------------------------------------------------------------------------
    def answer_frame(self, frame: bytes | bytearray) -> bytes | None:
        """A relayed answer after the transform and the hooks, or None when they left it as it was."""
        changed: bytes | None = None
        if self.pyform is not None:
            changed = self.pyform.apply(frame)
        if self.hooks is not None:
            msg = Message.decode(changed or bytes(frame))
            if self.hooks.run(msg, []).changed:
                changed = msg.encode()
        return changed

    @property
    def routes(self) -> list[Route]:
        return self.table.routes
