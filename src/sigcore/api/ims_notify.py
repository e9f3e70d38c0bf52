"""IMS changes reach the S-CSCFs: RTR (administrative deregistration) and PPR (profile push) via the HSS.

``services.cx`` is the running `sigcore.hss.cx.handlers.CxService`; both of its methods work per IMPI and only
reach the S-CSCFs that serve that IMPI's identities. As for S6a (`sigcore.api.notify`), failures are
logged (with the identity, never a password) and never turn a committed change into an error.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from sigcore.api.context import ApiContext
from sigcore.hss.ims.codes import ReasonCode

log = logging.getLogger("sigcore.api.notify")


class CxNotifier(Protocol):
    """What the IMS HSS offers the API (``services.cx``)."""

    async def deregister(self, impi_name: str, reason: ReasonCode = ..., info: str = ...) -> Any:
        """Send an RTR to every S-CSCF serving the IMPI's identities."""

    async def push_profile(self, impi_name: str) -> Any:
        """Send a PPR with the current User-Data to every S-CSCF serving the IMPI."""


def cx_of(ctx: ApiContext) -> CxNotifier | None:
    return ctx.services.cx


async def deregister(ctx: ApiContext, impis: list[str], reason: ReasonCode, info: str) -> None:
    cx = cx_of(ctx)
    if cx is None:
        return
    for impi in impis:
        try:
            await cx.deregister(impi, reason, info)
        except Exception:
            log.exception("RTR for IMPI %s failed", impi)


async def push_profiles(ctx: ApiContext, impis: list[str]) -> None:
    cx = cx_of(ctx)
    if cx is None:
        return
    for impi in impis:
        try:
            await cx.push_profile(impi)
        except Exception:
            log.exception("PPR for IMPI %s failed", impi)
