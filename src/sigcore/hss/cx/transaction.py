"""Cx requests as items of the HSS's batch worker (`sigcore.store.batch`): group commit, one lock per batch.

Each request is a function of the batch's connection: it reads what it needs (one joined query, profiles
from the cache), decides, writes only what changes, and returns the answer's content or, when the answer
needs work that must not hold the database lock (computing AKA vectors on SQNs that must be committed
first), an `AfterCommit` that the worker runs once the batch has committed. A MAR for AKA returns
`NeedsSqns`: the SQNs of every such MAR in the batch are then reserved by one call of S6a's
`SqnReservation` (one locked read and one compare-and-set write for the whole batch, the same rule and
the same rows as an AIR). The registration views of a batch's requests are read ahead with one query
(`ImsStore.prefetch_views`; a write drops those of the identities it changed). A refusal (`Rejected`) or a
malformed request (any other `DiameterError`) fails that item only; a database error fails the batch, and nothing
of it was handed out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection

from sigcore.diameter.avp import Avp
from sigcore.diameter.errors import DiameterError
from sigcore.hss.auc import AutsMacError
from sigcore.hss.auth import SqnReservation, VectorRequest
from sigcore.store.batch import BatchKind
from sigcore.store.errors import NotFound
from sigcore.store.ims import ImsStore

log = logging.getLogger("sigcore.hss.cx.handlers")
CxWork = Callable[[Connection], Any]
#: What an answer is made of: built AVPs (cached ones) or (name, value) pairs encoded straight to bytes.
AnswerAvp = Avp | tuple[str, Any]
PREFETCH_MIN = 4  # below this many requests a batch reads per request (a single read is cheaper)


@dataclass(frozen=True, slots=True)
class CxItem:
    """One request: ``work(conn)``, and the public identity it names (read ahead with the batch's others)."""

    work: CxWork
    uri: str | None = None

    def __call__(self, conn: Connection) -> Any:
        return self.work(conn)


class AfterCommit:
    """The rest of an answer, computed after the commit (outside the lock)."""

    __slots__ = ("finish",)

    def __init__(self, finish: Callable[[], Any]) -> None:
        self.finish = finish


@dataclass(frozen=True, slots=True)
class NeedsSqns:
    """A MAR's SQN reservation, done with the batch's others; ``then(request, reserved)`` gives the answer
    (an `AfterCommit`) or raises `Rejected`. A wrong AUTS (MAC-S) is logged and the SQN kept (no resync)."""

    request: VectorRequest
    then: Callable[[VectorRequest, Any], Any]


class CxBatch(BatchKind[CxItem, Any]):
    name = "cx"

    def __init__(self, reservation: SqnReservation, ims: ImsStore | None = None) -> None:
        self.reservation = reservation
        self.ims = ims  # None: no read-ahead, every request reads its own view

    def run(self, conn: Connection, items: Sequence[CxItem]) -> list[Any]:
        uris = [i.uri for i in items if i.uri] if self.ims is not None and len(items) >= PREFETCH_MIN else []
        if uris and self.ims is not None:
            self.ims.prefetch_views(conn, uris)
        out: list[Any] = []
        try:
            for item in items:
                try:
                    out.append(item(conn))
                except (DiameterError, NotFound) as err:
                    out.append(err)
        finally:
            if self.ims is not None:
                self.ims.end_batch()
        waiting = [i for i, r in enumerate(out) if isinstance(r, NeedsSqns)]
        if waiting:
            self._reserve(conn, out, waiting)
        return out

    def _reserve(self, conn: Connection, out: list[Any], waiting: list[int]) -> None:
        requests = {i: out[i].request for i in waiting}
        reserved = dict(zip(waiting, self.reservation.run(conn, list(requests.values())), strict=True))
        bad_auts = [i for i in waiting if isinstance(reserved[i], AutsMacError)]
        if bad_auts:
            for i in bad_auts:
                log.warning("MAR resync for %s: AUTS MAC-S wrong, SQN kept", requests[i].imsi)
                requests[i] = replace(requests[i], resync=None)
            reserved.update(zip(bad_auts, self.reservation.run(conn, [requests[i] for i in bad_auts]), strict=True))
        for i in waiting:
            try:
                out[i] = out[i].then(requests[i], reserved[i])
            except DiameterError as err:
                out[i] = err

    def after(self, items: Sequence[CxItem], results: list[Any]) -> list[Any]:
        out: list[Any] = []
        for result in results:
            if isinstance(result, AfterCommit):
                try:
                    result = result.finish()
                except DiameterError as err:
                    result = err
            out.append(result)
        return out
