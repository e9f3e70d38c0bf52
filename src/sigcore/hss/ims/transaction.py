"""Cx requests as items of the HSS's batch worker (`sigcore.hss.batch`): group commit, one lock per batch.

Each request is a function of the batch's connection: it reads what it needs (one joined query, profiles
from the cache), decides, writes only what changes, and returns the answer's content or, when the answer
needs work that must not hold the database lock (computing AKA vectors on SQNs that must be committed
first), an `AfterCommit` that the worker runs once the batch has committed. A refusal (`CxError`) or a
malformed request (`DiameterError`) fails that item only; a database error fails the batch, and nothing
of it was handed out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection

from sigcore.diameter.errors import DiameterError
from sigcore.hss.batch import BatchKind
from sigcore.store.errors import NotFound

CxWork = Callable[[Connection], Any]


class CxError(Exception):
    """An answer other than success, decided in the transaction."""

    def __init__(self, experimental: int | None = None, result: int | None = None, why: str = "") -> None:
        super().__init__(why)
        self.experimental = experimental
        self.result = result


class AfterCommit:
    """The rest of an answer, computed after the commit (outside the lock)."""

    __slots__ = ("finish",)

    def __init__(self, finish: Callable[[], Any]) -> None:
        self.finish = finish


class CxBatch(BatchKind[CxWork, Any]):
    name = "cx"

    def run(self, conn: Connection, items: Sequence[CxWork]) -> list[Any]:
        out: list[Any] = []
        for work in items:
            try:
                out.append(work(conn))
            except (CxError, DiameterError, NotFound) as err:
                out.append(err)
        return out

    def after(self, items: Sequence[CxWork], results: list[Any]) -> list[Any]:
        out: list[Any] = []
        for result in results:
            if isinstance(result, AfterCommit):
                try:
                    result = result.finish()
                except (CxError, DiameterError) as err:
                    result = err
            out.append(result)
        return out
