"""Where a subscriber is registered (ULR) and what its profile is, on the hot path.

`ServingUpdates` is the whole ULR minus Diameter, in one batched transaction for every queued ULR: one
locked read of the serving state together with the subscriber's ``profile_version``, the profile (from
`ProfileCache` when that version is the one cached, else read in the same transaction), the admission
checks (enabled, RAT, APNs, roaming: a refusal writes nothing), and the write of the new MME (or SGSN). It
returns the node each ULR replaced, so the handler can send a CLR to the old MME, and the `Profile` whose
encoded Subscription-Data the ULA carries.

``profile_version`` is bumped by every provisioning change of what an MME receives (`Store.update_subscriber`,
`Store.update_apn`), in any process, so a cached profile and its encoded Subscription-Data are used only
while they are the stored ones: no TTL, no stale answer after a change made by the CLI or another HSS.

`ProfileCache.get` (profiles for the AIR's roaming check and for the notifier) keeps `Subscriber` records
for `ttl` seconds; `invalidate(imsi)` drops one early (the notifier calls it on every provisioning change).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Connection

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.avp import Avp
from sigcore.hss.s6a.subscription_data import subscription_data
from sigcore.store import NotFound, ServingNode, Store, Subscriber
from sigcore.store.base import utc_now
from sigcore.store.batch import BatchKind
from sigcore.store.serving import lock_serving_rows, serving_node, write_serving

NodeKind = Literal["mme", "sgsn"]


@dataclass(frozen=True, slots=True)
class ServingUpdate:
    imsi: str
    node: NodeKind
    host: str
    realm: str | None
    peer: str | None
    rat_type: int | None = None  # for the admission check
    plmn: bytes | None = None  # Visited-PLMN-Id, for the admission check


@dataclass(slots=True)
class Profile:
    """One stored version of a subscriber's profile, and its Subscription-Data AVP encoded once."""

    subscriber: Subscriber
    version: tuple[int, int]  # (subscriber id, profile_version): a re-provisioned IMSI has a new id
    _subscription: Avp | None = field(default=None, repr=False)

    def subscription_data(self) -> Avp:
        if self._subscription is None:
            self._subscription = D.build("Subscription-Data", subscription_data(self.subscriber))
        return self._subscription


@dataclass(frozen=True, slots=True)
class Registered:
    previous: ServingNode | None  # the node this registration replaced (None: there was none)
    profile: Profile


Admission = Callable[[Connection, Subscriber, ServingUpdate], None]
"""Raises (e.g. an S6a rejection) to refuse a registration; then nothing is written for it. Reads it needs
go through the connection given (the batch's transaction), never a connection of its own."""


class ServingUpdates(BatchKind[ServingUpdate, Registered]):
    name = "ulr"

    def __init__(self, profiles: ProfileCache, admit: Admission | None = None) -> None:
        self.profiles = profiles
        self.admit = admit

    def run(self, conn: Connection, items: Sequence[ServingUpdate]) -> list[Registered | Exception]:
        rows = lock_serving_rows(conn, sorted({i.imsi for i in items}))
        latest: dict[tuple[str, NodeKind], ServingNode | None] = {}
        out: list[Registered | Exception] = []
        writes: dict[tuple[str, NodeKind], dict[str, Any]] = {}
        now = utc_now()
        for item in items:
            row = rows.get(item.imsi)
            if row is None:
                out.append(NotFound(f"no subscriber with IMSI {item.imsi}"))
                continue
            profile = self.profiles.versioned(conn, item.imsi, (row.subscriber_id, row.profile_version))
            if self.admit is not None:
                try:
                    self.admit(conn, profile.subscriber, item)
                except Exception as err:  # this registration is refused; the others go on
                    out.append(err)
                    continue
            key = (item.imsi, item.node)
            previous = latest[key] if key in latest else serving_node(row, item.node)
            writes[key] = {"sid": row.subscriber_id, "host": item.host, "realm": item.realm, "peer": item.peer,
                           "now": now}
            latest[key] = ServingNode(item.host, item.realm, item.peer, now, False)
            out.append(Registered(previous, profile))
        # the last registration of each subscriber wins; one executemany per node and whether its host changed
        batches: dict[tuple[NodeKind, bool], list[dict[str, Any]]] = {}
        for (imsi, node), params in writes.items():
            changed = params["host"] != getattr(rows[imsi], f"{node}_host")
            batches.setdefault((node, changed), []).append(params)
        for (node, changed), batch in batches.items():
            write_serving(conn, node, changed, batch)
        return out


class ProfileCache:
    """Subscriber profiles: by stored version for the ULR (`versioned`), by age for the rest (`get`)."""

    def __init__(self, store: Store, ttl: float = 5.0, size: int = 200_000) -> None:
        self.store = store
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[str, tuple[float, Subscriber]] = OrderedDict()
        self._versions: OrderedDict[str, Profile] = OrderedDict()

    def invalidate(self, imsi: str | None = None) -> None:
        if imsi is None:
            self._entries.clear()
            self._versions.clear()
        else:
            self._entries.pop(imsi, None)
            self._versions.pop(imsi, None)

    def last_known(self, imsi: str) -> Subscriber | None:
        """The profile held for `imsi` however old: the "before" of a change the API reports."""
        entry = self._entries.get(imsi)
        if entry is not None:
            return entry[1]
        profile = self._versions.get(imsi)
        return profile.subscriber if profile is not None else None

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
        self._remember(imsi, sub)
        return sub

    def held(self, imsi: str) -> Profile | None:
        """The versioned profile held for `imsi` (the one the last ULR used), if any."""
        return self._versions.get(imsi)

    def versioned(self, conn: Connection, imsi: str, version: tuple[int, int]) -> Profile:
        """The profile at `version` (read with a lock in `conn`'s transaction): the cached one if it is that
        version, else read on `conn` and cached."""
        found = self._versions.get(imsi)
        if found is not None and found.version == version:
            return found
        profile = self._versions[imsi] = Profile(self.store.subscriber_on(conn, imsi), version)
        if len(self._versions) > self.size:
            self._versions.popitem(last=False)
        self._remember(imsi, profile.subscriber)
        return profile

    def _remember(self, imsi: str, sub: Subscriber) -> None:
        self._entries[imsi] = (time.monotonic(), sub)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)
