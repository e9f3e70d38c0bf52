"""What every route needs: the store, the token repository, the HSS notifier and the Diameter node."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, Protocol, TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from sigcore.applications import Services
from sigcore.hss.auc import DEFAULT_IND_BITS
from sigcore.store import Store
from sigcore.store.tokens import TokenRepository

P = ParamSpec("P")
R = TypeVar("R")


class HssNotifier(Protocol):
    """What the running HSS offers the API (``services.notifier``): push profile changes to the serving MME."""

    async def subscriber_changed(self, imsi: str) -> Any:
        """Send an IDR with the new subscription data to the subscriber's serving MME, if any."""

    async def cancel_location(self, imsi: str, reason: Any) -> Any:
        """Send a CLR to the serving MME (barring, withdrawal)."""


@dataclass
class ApiContext:
    """`services` are those of `sigcore run`; read at request time, so installers may fill them in any order."""

    store: Store
    tokens: TokenRepository
    services: Services = field(default_factory=Services)
    ind_bits: int = DEFAULT_IND_BITS

    @property
    def hss(self) -> HssNotifier | None:
        return self.services.notifier

    @property
    def node(self) -> Any:
        return self.services.node

    async def call(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a (synchronous, blocking) store method in the thread pool, off the event loop."""
        return await run_in_threadpool(fn, *args, **kwargs)


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx
