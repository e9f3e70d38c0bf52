"""Counting what a Diameter ``Node`` does, through its hooks, without touching its code.

* ``on_answer_sent(request, answer)``: one count per (application, command, result), where the result
  is the Result-Code (vendor 0) or the Experimental-Result (vendor, code); and the request's latency.
* a tap on inbound frames records when each request's frame arrived (keyed by hop-by-hop + end-to-end
  ids, read from the raw header), so latency covers decoding, validation and the handler, not only
  the handler.
* ``on_peer_change(peer)`` and a periodic ``poll()`` keep peer states and transition counts current.

Existing hooks are chained, never replaced.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from typing import Any

from sigcore.diameter.aio import Node
from sigcore.diameter.message import Message, parse_avps
from sigcore.diameter.peer import Peer
from sigcore.metrics.families import (
    DIA_ANSWERS,
    DIA_LATENCY,
    PEER_EVENTS,
    PEER_STATE,
    PEER_STATE_CODES,
    PEER_TRANSITIONS,
)
from sigcore.metrics.registry import Registry

_RESULT_CODE = 268
_EXPERIMENTAL_RESULT = 297
_EXPERIMENTAL_RESULT_CODE = 298
_VENDOR_ID = 266
_IDS = struct.Struct(">II").pack
#: Requests whose answer never comes through ``on_answer_sent`` (duplicates answered from the cache,
#: cancelled handlers) would otherwise accumulate; beyond this many the oldest arrival times are dropped.
MAX_PENDING_ARRIVALS = 65536


def result_of_answer(ans: Message) -> tuple[int, int]:
    """(vendor, code): (0, Result-Code), (vendor, Experimental-Result-Code), or (0, 0) if neither.

    Reads the AVPs' raw integers instead of going through the dictionary: this runs for every answer.
    """
    for avp in ans.avps:
        if avp.vendor:
            continue
        if avp.code == _RESULT_CODE:
            return 0, int.from_bytes(avp.data, "big")
        if avp.code == _EXPERIMENTAL_RESULT:
            vendor = code = 0
            for inner in parse_avps(bytes(avp.data), 0, len(avp.data)):
                if inner.code == _VENDOR_ID and not inner.vendor:
                    vendor = int.from_bytes(inner.data, "big")
                elif inner.code == _EXPERIMENTAL_RESULT_CODE and not inner.vendor:
                    code = int.from_bytes(inner.data, "big")
            return vendor, code
    return 0, 0


class NodeMetrics:
    """Counts one node's answers, latencies and peer states into ``registry``."""

    def __init__(self, registry: Registry, clock: Callable[[], float] = time.perf_counter) -> None:
        self.registry = registry
        self.clock = clock
        self.node: Node | None = None
        self._arrivals: dict[bytes, float] = {}
        self._transitions_seen: dict[str, int] = {}

    def attach(self, node: Node) -> None:
        self.node = node
        self._chain(node, "on_answer_sent", self.answer_sent)
        self._chain(node, "on_peer_change", self.peer_changed)
        node.taps.append(self.frame_tap)

    @staticmethod
    def _chain(node: Node, hook: str, ours: Callable[..., None]) -> None:
        previous: Callable[..., None] | None = getattr(node, hook)
        if previous is None:
            setattr(node, hook, ours)
            return

        def both(*args: Any) -> None:
            previous(*args)
            ours(*args)

        setattr(node, hook, both)

    # --- hot path ------------------------------------------------------------------------------------
    def frame_tap(self, direction: str, conn: object, frame: bytes) -> None:
        # requests (R bit) of applications other than base (CER/DWR/DPR never reach a handler)
        if direction == "in" and frame[4] & 0x80 and frame[8:12] != b"\0\0\0\0":
            arrivals = self._arrivals
            arrivals[frame[12:20]] = self.clock()
            if len(arrivals) > MAX_PENDING_ARRIVALS:
                del arrivals[next(iter(arrivals))]

    def answer_sent(self, req: Message, ans: Message) -> None:
        registry = self.registry
        app, cmd = req.app_id, req.code
        vendor, code = result_of_answer(ans)
        registry.inc((DIA_ANSWERS, app, cmd, vendor, code))
        raw = req.raw
        started = self._arrivals.pop(raw[12:20] if raw is not None else _IDS(req.hop_by_hop, req.end_to_end), None)
        if started is not None:
            registry.observe(DIA_LATENCY, (app, cmd), self.clock() - started)

    # --- peers ---------------------------------------------------------------------------------------
    def peer_changed(self, peer: Peer) -> None:
        self.registry.inc((PEER_EVENTS, peer.name, "up" if peer.is_open else "down"))
        self._peer_state(peer)

    def _peer_state(self, peer: Peer) -> None:
        self.registry.set((PEER_STATE, peer.name), PEER_STATE_CODES[peer.state])
        seen = self._transitions_seen.get(peer.name, 0)
        if peer.transitions > seen:
            self.registry.inc((PEER_TRANSITIONS, peer.name), peer.transitions - seen)
            self._transitions_seen[peer.name] = peer.transitions

    def poll(self) -> None:
        """Refresh every peer's state and transition count (called before each flush)."""
        if self.node is not None:
            for peer in list(self.node.peers.values()):
                self._peer_state(peer)
