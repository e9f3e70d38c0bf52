"""HSS-initiated S6a requests: CLR when a subscriber moved or was withdrawn, IDR/DSR when a profile changed.

The ULR handler calls `cancel_old_node` when the serving MME changed; the REST API calls
`subscriber_changed(imsi)` and `cancel_location(imsi, reason)` (``ctx.services.s6a.notifier``). A CLR or IDR is
sent to the Diameter peer the MME registered through (falling back to Destination-Host routing when that
peer is gone) and waits at most ``hss.mme_peer_timeout`` seconds. A failed or unanswered request is logged
(IMSI, peer, reason; never a key) and never fails the ULR or the API call that caused it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.aio import Node
from sigcore.diameter.answers import result_of
from sigcore.diameter.errors import DiameterError
from sigcore.diameter.message import Message
from sigcore.hss.application import hss_request
from sigcore.hss.s6a.codes import S6A, CancellationType, ClrFlags, Command, DsrFlags
from sigcore.hss.s6a.registration import ProfileCache
from sigcore.hss.s6a.subscription_data import removed_context_ids, subscription_data
from sigcore.store import NotFound, ServingNode, Store

log = logging.getLogger("sigcore.hss.s6a.notify")


def cancellation_type(reason: str | int | CancellationType) -> CancellationType:
    """A Cancellation-Type from its enum, its number or its name in any case (``"subscription_withdrawal"``)."""
    if isinstance(reason, str):
        return CancellationType[reason.strip().upper()]
    return CancellationType(reason)


class HssNotifier:
    """What the HSS sends on its own; also what the API gets (``ctx.services.s6a.notifier``)."""

    def __init__(self, node: Node, store: Store, profiles: ProfileCache, timeout: float = 5.0) -> None:
        self.node = node
        self.store = store
        self.profiles = profiles
        self.timeout = timeout
        self._tasks: set[asyncio.Task[Any]] = set()
        self.sent: list[tuple[str, str, int | None]] = []  # (command, imsi, result) of the last requests

    # --- the API's calls -----------------------------------------------------------------------------
    async def subscriber_changed(self, imsi: str) -> int | None:
        """IDR with the whole new Subscription-Data to the serving MME; DSR first for withdrawn APNs.

        Returns the IDA's result (None: not registered at an MME, or no answer)."""
        before = self.profiles.last_known(imsi)
        self.profiles.invalidate(imsi)
        try:
            after = await self.profiles.get(imsi)
            serving = await self._call(self.store.get_serving, imsi)
        except NotFound:
            return None
        mme = serving.mme
        if mme is None or mme.purged:
            return None
        if before is not None and (gone := removed_context_ids(before, after)):
            await self.delete_subscriber_data(imsi, mme, gone)
        body = [("Subscription-Data", subscription_data(after))]
        return await self._send(Command.IDR, imsi, mme, body)

    async def cancel_location(self, imsi: str, reason: str | int | CancellationType = "subscription_withdrawal"
                              ) -> int | None:
        """CLR to the serving MME (e.g. the subscriber was barred or deleted); the answer's result or None."""
        try:
            serving = await self._call(self.store.get_serving, imsi)
        except NotFound:
            return None
        if serving.mme is None:
            return None
        return await self.send_clr(imsi, serving.mme, cancellation_type(reason))

    # --- the handlers' calls -------------------------------------------------------------------------
    def cancel_old_node(self, imsi: str, old: ServingNode, kind: CancellationType, s6a: bool = True) -> None:
        """Fire-and-forget CLR to the node a ULR replaced: the ULA does not wait for the CLA."""
        task = asyncio.get_running_loop().create_task(self.send_clr(imsi, old, kind, s6a))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send_clr(self, imsi: str, node: ServingNode, kind: CancellationType, s6a: bool = True) -> int | None:
        flags = ClrFlags.S6A_S6D_INDICATOR if s6a else ClrFlags(0)
        body = [("Cancellation-Type", int(kind)), ("CLR-Flags", int(flags))]
        return await self._send(Command.CLR, imsi, node, body)

    async def delete_subscriber_data(self, imsi: str, node: ServingNode, context_ids: list[int]) -> int | None:
        body = [("DSR-Flags", int(DsrFlags.PDN_SUBSCRIPTION_CONTEXTS_WITHDRAWAL)), ("Context-Identifier", context_ids)]
        return await self._send(Command.DSR, imsi, node, body)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- plumbing ------------------------------------------------------------------------------------
    async def _send(self, command: Command, imsi: str, node: ServingNode, body: list[tuple[str, Any]]) -> int | None:
        msg = hss_request(self.node.identity, S6A, command, node.host, node.realm, [("User-Name", imsi), *body])
        answer = await self._request(msg, node)
        result = result_of(answer) if answer is not None else None
        self.sent.append((command.name, imsi, result))
        del self.sent[:-100]
        if answer is not None and result != 2001:
            log.warning("%s for IMSI %s to %s answered %s", command.name, imsi, node.host, result)
        return result

    async def _request(self, msg: Message, node: ServingNode) -> Message | None:
        """Through the peer the node registered through (itself, or the DRA in front of it), else to the
        node by name if it is a direct peer now. Never by realm: another MME must not get this CLR."""
        peer = next((p for p in (node.peer, node.host) if p and self._is_open(p)), None)
        try:
            if peer is None:
                raise ConnectionError("no open connection to it")
            return await self.node.request(msg, peer=peer, timeout=self.timeout)
        except (DiameterError, ConnectionError, TimeoutError) as err:
            name = D.command(msg.app_id, msg.code, True)
            log.warning("%s for IMSI %s to %s not delivered: %s", name.short if name else msg.code,
                        msg.get("User-Name"), node.host, err or type(err).__name__)
            return None

    def _is_open(self, peer: str) -> bool:
        found = self.node.peers.get(peer.lower())
        return found is not None and found.is_open

    async def _call(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


__all__ = ["HssNotifier", "cancellation_type"]
