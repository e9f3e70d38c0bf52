"""Credit control on an account, in memory, inside the transaction holding the account's lock:
reserve (grant), debit used units, release — what one CCR does to one account.

Units are balance units: *voice in nanoseconds (as CGrateS), *data in octets, the others as counted.
A balance serves a rating group when its Categories are empty or include the rating group's number;
higher Weight is spent first; expired and disabled balances are never spent; a Blocker balance that
cannot cover the rest stops the chain; Factor (by rating group or ``*any``) divides the units it is charged.
Nothing is ever spent beyond what the balances hold unless the account has AllowNegative.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from sigcore.charging.executor import count_debit
from sigcore.charging.model import Account, Balance, Reservation
from sigcore.charging.values import ZERO


@dataclass
class Debit:
    """What one debit took: the units asked and taken."""

    balance_type: str
    asked: Decimal
    taken: Decimal


def _serves(bal: Balance, rating_group: int | None) -> bool:
    if not bal.categories or rating_group is None:
        return True
    return bal.categories.get(str(rating_group), False)


def _factor(bal: Balance, rating_group: int | None) -> Decimal:
    if not bal.factor:
        return Decimal(1)
    value = bal.factor.get(str(rating_group)) if rating_group is not None else None
    if value is None:
        value = bal.factor.get("*any")
    return Decimal(str(value)) if value else Decimal(1)


def serving_balances(acc: Account, balance_type: str, rating_group: int | None, now: dt.datetime) -> list[Balance]:
    """The balances that pay for `rating_group`, in spending order (Weight, higher first)."""
    found = [b for b in acc.by_type(balance_type) if b.spendable(now) and _serves(b, rating_group)]
    return sorted(found, key=lambda b: -b.weight)


def available(acc: Account, balance_type: str, rating_group: int | None, now: dt.datetime) -> Decimal:
    """Units `rating_group` can still be granted: the serving balances (in units, through Factor) less
    every other live reservation on this balance type."""
    total = ZERO
    for bal in serving_balances(acc, balance_type, rating_group, now):
        if bal.value > 0:
            total += bal.value * _factor(bal, rating_group)
        if bal.blocker:
            break
    held = sum((r.units for rgs in acc.reservations.values()
                for r in rgs.values() if r.balance_type == balance_type and r.expires > now), ZERO)
    return max(total - held, ZERO)


def debit(acc: Account, balance_type: str, units: Decimal, rating_group: int | None, now: dt.datetime) -> Debit:
    """Take `units` from the serving balances; what no balance holds is taken from the last one only with
    AllowNegative (else it is not taken: `Debit.taken` says how much was)."""
    rest = units
    balances = serving_balances(acc, balance_type, rating_group, now)
    for bal in balances:
        if rest <= 0:
            break
        factor = _factor(bal, rating_group)
        if bal.value <= 0:
            if bal.blocker:
                break
            continue
        covers = bal.value * factor
        used = min(covers, rest)
        bal.value -= used / factor
        rest -= used
        if bal.blocker and rest > 0:
            break
    if rest > 0 and acc.allow_negative:
        target = balances[-1] if balances else _new_default(acc, balance_type)
        target.value -= rest / _factor(target, rating_group)
        rest = ZERO
    taken = units - rest
    if taken:
        count_debit(acc, balance_type, taken)
    return Debit(balance_type, units, taken)


def _new_default(acc: Account, balance_type: str) -> Balance:
    bal = Balance(type=balance_type, id="*default")
    acc.balances.append(bal)
    return bal


def reserve(acc: Account, session_id: str, rating_group: int, balance_type: str, asked: Decimal,
            now: dt.datetime, expires: dt.datetime, add: bool = False) -> Decimal:
    """Hold up to `asked` units for the session's rating group, replacing its previous hold (or, with `add`,
    on top of the hold this same CCR made for another MSCC of that rating group); the units granted."""
    held = acc.reservations.get(session_id, {}).get(rating_group)
    if not add:
        release(acc, session_id, rating_group)  # the new request replaces the hold (its use is debited already)
        held = None
    grant = min(asked, available(acc, balance_type, rating_group, now)).to_integral_value(ROUND_FLOOR)
    if grant > 0:
        total = grant + (held.units if held is not None and held.balance_type == balance_type else 0)
        acc.reservations.setdefault(session_id, {})[rating_group] = Reservation(balance_type, total, expires)
    return grant


def release(acc: Account, session_id: str, rating_group: int | None = None) -> None:
    """Drop the session's hold on one rating group, or all of them."""
    if rating_group is None:
        acc.reservations.pop(session_id, None)
        return
    held = acc.reservations.get(session_id)
    if held is not None:
        held.pop(rating_group, None)
        if not held:
            del acc.reservations[session_id]


def drop_expired(acc: Account, now: dt.datetime) -> list[str]:
    """Forget holds that timed out; the sessions that lost one."""
    lost = []
    for sid in list(acc.reservations):
        live = {rg: r for rg, r in acc.reservations[sid].items() if r.expires > now}
        if len(live) != len(acc.reservations[sid]):
            lost.append(sid)
        if live:
            acc.reservations[sid] = live
        else:
            del acc.reservations[sid]
    return lost
