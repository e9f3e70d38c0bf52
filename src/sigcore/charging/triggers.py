"""Action triggers: which of an account's triggers fire now (CGrateS's ExecuteActionTriggers).

A trigger fires once per crossing: it is marked Executed when it fires; a Recurrent one is re-armed when
its condition no longer holds, and fires again at the next crossing if MinSleep has passed since the last.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sigcore.charging.model import Account, Balance, Trigger
from sigcore.charging.values import ZERO

THRESHOLD_TYPES = ("*min_balance", "*max_balance", "*balance_expired", "*min_event_counter",
                   "*max_event_counter", "*max_balance_counter")


def _balances(acc: Account, trig: Trigger) -> list[Balance]:
    return [b for b in acc.balances
            if (not trig.balance_type or b.type == trig.balance_type)
            and (not trig.balance_id or b.id == trig.balance_id)
            and all(b.destination_ids.get(d) == v for d, v in trig.balance_destination_ids.items())]


def _counter(acc: Account, kind: str, trig: Trigger) -> Decimal:
    if trig.balance_type:
        return acc.counters.get(f"{kind}:{trig.balance_type}", ZERO)
    return sum((v for k, v in acc.counters.items() if k.startswith(kind + ":")), ZERO)


def condition_holds(acc: Account, trig: Trigger, now: dt.datetime) -> bool:
    kind, limit = trig.threshold_type, trig.threshold
    if kind == "*balance_expired":
        return any(b.expired(now) for b in _balances(acc, trig))
    if kind in ("*min_balance", "*max_balance"):
        live = [b for b in _balances(acc, trig) if b.spendable(now)]
        if kind == "*min_balance":
            return any(b.value <= limit for b in live)
        return any(b.value >= limit for b in live)
    if kind == "*min_event_counter":
        return _counter(acc, "*event", trig) <= limit
    if kind == "*max_event_counter":
        return _counter(acc, "*event", trig) >= limit
    if kind == "*max_balance_counter":
        return _counter(acc, "*balance", trig) >= limit
    return False


def evaluate_triggers(acc: Account, now: dt.datetime) -> list[Trigger]:
    """The triggers that fire now, in Weight order, already marked Executed (the caller runs their actions)."""
    firing: list[Trigger] = []
    for trig in sorted(acc.triggers, key=lambda t: -t.weight):
        if trig.expiration is not None and trig.expiration <= now:
            continue
        if trig.activation is not None and trig.activation > now:
            continue
        holds = condition_holds(acc, trig, now)
        if trig.executed:
            if trig.recurrent and not holds:
                trig.executed = False  # re-armed for the next crossing
            continue
        if not holds:
            continue
        if (trig.recurrent and trig.last_execution is not None
                and (now - trig.last_execution).total_seconds() < trig.min_sleep_s):
            continue
        trig.executed = True
        trig.last_execution = now
        firing.append(trig)
    return firing
