"""Where a subscriber is registered (ULR) and what its profile is, on the hot path.

`ServingUpdates` is the ULR's write: one batched transaction records the new MME (or SGSN) for every
queued ULR and returns the node each one replaced, so the handler can send a CLR to the old MME. The
subscriber's ``updated_at`` comes back from the same locked read, so `ProfileCache` can tell whether the
profile it holds is still the stored one.

`ProfileCache` keeps `Subscriber` records for `ttl` seconds. An entry is dropped early by
`invalidate(imsi)` (the HSS notifier calls it on every provisioning change made through this process) and
whenever the ULR's locked read shows a newer ``updated_at`` (a change made by another process).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, bindparam, select, update

from sigcore.hss.batch import BatchKind
from sigcore.store import NotFound, ServingNode, Store, Subscriber
from sigcore.store import tables as t
from sigcore.store.base import as_utc, utc_now
from sigcore.store.serving import _node  # the store's row -> ServingNode mapping, shared

NodeKind = Literal["mme", "sgsn"]
_V = t.serving_state.c
_S = t.subscribers.c
_SERVING_FOR_UPDATE = (
    select(t.serving_state, _S.imsi, _S.updated_at.label("profile_updated_at"))
    .join(t.subscribers, _S.id == _V.subscriber_id)
    .where(_S.imsi.in_(bindparam("imsis", expanding=True)))
    .order_by(_S.id)
    .with_for_update()
)


def _set(node: NodeKind) -> Any:
    return (
        update(t.serving_state)
        .where(_V.subscriber_id == bindparam("sid"))
        .values({f"{node}_host": bindparam("host"), f"{node}_realm": bindparam("realm"),
                 f"{node}_peer": bindparam("peer"), f"{node}_updated_at": bindparam("now"), f"{node}_purged": False})
    )


_SET = {"mme": _set("mme"), "sgsn": _set("sgsn")}


@dataclass(frozen=True, slots=True)
class ServingUpdate:
    imsi: str
    node: NodeKind
    host: str
    realm: str | None
    peer: str | None


@dataclass(frozen=True, slots=True)
class Registered:
    previous: ServingNode | None  # the node this registration replaced (None: there was none)
    profile_updated_at: dt.datetime | None


class ServingUpdates(BatchKind[ServingUpdate, Registered]):
    name = "ulr"

    def run(self, conn: Connection, items: Sequence[ServingUpdate]) -> list[Registered | Exception]:
        rows = {r.imsi: r._mapping for r in conn.execute(_SERVING_FOR_UPDATE,
                                                         {"imsis": sorted({i.imsi for i in items})})}
        latest: dict[tuple[str, str], ServingNode | None] = {}
        out: list[Registered | Exception] = []
        writes: dict[tuple[str, str], dict[str, Any]] = {}
        now = utc_now()
        for item in items:
            row = rows.get(item.imsi)
            if row is None:
                out.append(NotFound(f"no subscriber with IMSI {item.imsi}"))
                continue
            key = (item.imsi, item.node)
            previous = latest[key] if key in latest else _node(row, item.node)
            writes[key] = {"sid": row["subscriber_id"], "host": item.host, "realm": item.realm, "peer": item.peer,
                           "now": now}
            latest[key] = ServingNode(item.host, item.realm, item.peer, now, False)
            out.append(Registered(previous, as_utc(row["profile_updated_at"])))
        for node in ("mme", "sgsn"):  # the last registration of each subscriber wins; one executemany per node
            batch = [params for (_, kind), params in writes.items() if kind == node]
            if batch:
                conn.execute(_SET[node], batch)
        return out


class ProfileCache:
    """`await get(imsi)` → `Subscriber` (raises `NotFound`); loads run in the default thread pool."""

    def __init__(self, store: Store, ttl: float = 5.0, size: int = 200_000) -> None:
        self.store = store
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[str, tuple[float, Subscriber]] = OrderedDict()

    def invalidate(self, imsi: str | None = None) -> None:
        if imsi is None:
            self._entries.clear()
        else:
            self._entries.pop(imsi, None)

    def last_known(self, imsi: str) -> Subscriber | None:
        """The profile held for `imsi` however old: the "before" of a change the API reports."""
        entry = self._entries.get(imsi)
        return entry[1] if entry else None

    def cached(self, imsi: str) -> Subscriber | None:
        entry = self._entries.get(imsi)
        if entry is None or time.monotonic() - entry[0] > self.ttl:
            return None
        return entry[1]

    async def get(self, imsi: str) -> Subscriber:
        found = self.cached(imsi)
        if found is not None:
            return found
        loop = asyncio.get_running_loop()
        sub = await loop.run_in_executor(None, self.store.get_subscriber, imsi)
        self._entries[imsi] = (time.monotonic(), sub)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return sub

    async def fresh(self, sub: Subscriber, stored_updated_at: dt.datetime | None) -> Subscriber:
        """`sub` if it is the stored version, else the reloaded profile."""
        if stored_updated_at is None or sub.updated_at == stored_updated_at:
            return sub
        self.invalidate(sub.imsi)
        return await self.get(sub.imsi)
