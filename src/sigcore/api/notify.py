"""Profile changes reach the network: IDR (or CLR when a subscriber is disabled) through the running HSS.

The API answers first and notifies afterwards (a FastAPI background task): an MME that is slow or gone
must not hold a provisioning call hostage, and the store is already committed, so the next ULR picks up
the change anyway. Failures are logged, with the IMSI and never a key.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from sigcore.api.context import ApiContext
from sigcore.store import NotFound, Subscriber, SubscriberFilter

log = logging.getLogger("sigcore.api.notify")

WITHDRAWAL_REASON = "subscription_withdrawal"
PAGE = 1000


def _comparable(s: Subscriber) -> Subscriber:
    return replace(s, updated_at=None, created_at=None)


def needs_cancel(before: Subscriber, after: Subscriber) -> bool:
    """Disabling a subscriber withdraws its subscription from the MME (CLR); everything else is an IDR."""
    return before.enabled and not after.enabled


def needs_insert(before: Subscriber, after: Subscriber) -> bool:
    return _comparable(before) != _comparable(after)


async def _registered_at_mme(ctx: ApiContext, imsi: str) -> bool:
    try:
        serving = await ctx.call(ctx.store.get_serving, imsi)
    except NotFound:
        return False
    return serving.mme is not None and not serving.mme.purged


async def subscriber_changed(ctx: ApiContext, imsi: str) -> None:
    if ctx.hss is None or not await _registered_at_mme(ctx, imsi):
        return
    try:
        await ctx.hss.subscriber_changed(imsi)
    except Exception:
        log.exception("IDR for IMSI %s failed", imsi)


async def cancel_location(ctx: ApiContext, imsi: str, reason: str = WITHDRAWAL_REASON) -> None:
    if ctx.hss is None or not await _registered_at_mme(ctx, imsi):
        return
    try:
        await ctx.hss.cancel_location(imsi, reason)
    except Exception:
        log.exception("CLR for IMSI %s failed", imsi)


async def profile_updated(ctx: ApiContext, before: Subscriber, after: Subscriber) -> None:
    if needs_cancel(before, after):
        await cancel_location(ctx, after.imsi)
    elif needs_insert(before, after):
        await subscriber_changed(ctx, after.imsi)


async def apn_profile_updated(ctx: ApiContext, apn: str) -> None:
    """An APN profile changed (QoS, APN-AMBR, PGW): every registered subscriber listing it gets an IDR."""
    if ctx.hss is None:
        return
    after: str | None = None
    while True:  # keyset pages: each costs the same, where an offset re-reads every row before it
        page = await ctx.call(ctx.store.list_subscribers, 0, PAGE, SubscriberFilter(apn=apn), after=after)
        for subscriber in page:
            await subscriber_changed(ctx, subscriber.imsi)
        if len(page) < PAGE:
            return
        after = page[-1].imsi
