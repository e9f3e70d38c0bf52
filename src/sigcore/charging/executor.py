"""Running an action set on an account, in memory, inside the caller's transaction.

The caller (`sigcore.charging.repo`) loads the account under its row lock, runs `ActionRun.run`, and
writes back the account and the CDRs only if every action succeeded: balance changes are all-or-nothing.
HTTP POSTs that must not block (`*http_post_async`) are handed back as `posts` for after the commit.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sigcore.charging.actions import BALANCE_CHANGING, KNOWN, Action, BalanceFilter, in_run_order
from sigcore.charging.cdrs import cdrlog_record
from sigcore.charging.model import Account, Balance, new_uuid
from sigcore.charging.times import BadTime, parse_expiry
from sigcore.charging.triggers import evaluate_triggers
from sigcore.charging.values import ZERO

log = logging.getLogger("sigcore.charging.actions")
MAX_TRIGGER_DEPTH = 4


class ActionFailed(Exception):
    """One action of a set failed: the set is PARTIALLY_EXECUTED and nothing it changed is kept."""


class MustBlock(Exception):
    """A synchronous ``*http_post`` asked for where blocking is not allowed (a CCR batch on the event loop):
    the caller rolls the work back and runs it again where it may block (a worker thread)."""


@dataclass
class BalanceChange:
    """What *cdrlog records for one balance-changing action."""

    action: Action
    balance: Balance


@dataclass
class Post:
    url: str
    body: bytes
    synchronous: bool


@dataclass
class ActionRun:
    """One action set (and the triggers it fires) on one account."""

    account: Account | None
    now: dt.datetime
    lookup_actions: Callable[[str], list[Action] | None]
    default_post_url: str = ""
    post_sync: Callable[[Post], None] | None = None
    cdrs: list[dict[str, Any]] = field(default_factory=list)
    posts: list[Post] = field(default_factory=list)
    removed: bool = False
    _changes: list[BalanceChange] = field(default_factory=list)

    def run(self, actions: list[Action], depth: int = 0) -> None:
        """Every action in Weight order; raises `ActionFailed` at the first failing one."""
        self._changes = []
        for action in in_run_order(actions):
            self._one(action)
            if self.account is not None and action.identifier in BALANCE_CHANGING and depth < MAX_TRIGGER_DEPTH:
                self.fire_triggers(depth)

    def fire_triggers(self, depth: int = 0) -> None:
        if self.account is None:
            return
        for trigger in evaluate_triggers(self.account, self.now):
            actions = self.lookup_actions(trigger.actions_id)
            if actions is None:
                log.warning("trigger %s of %s: no action set %s", trigger.group_id, self.account.key,
                            trigger.actions_id)
                continue
            saved = self._changes
            self.run(actions, depth + 1)
            self._changes = saved

    # --- one action --------------------------------------------------------------------------
    def _one(self, action: Action) -> None:
        kind = action.identifier
        if kind not in KNOWN:
            raise ActionFailed(f"unsupported action {kind}")
        if kind == "*log":
            log.info("*log %s", json.dumps(self.account.to_api() if self.account else None, sort_keys=True))
            return
        if kind in ("*http_post", "*http_post_async"):
            self._post(action)
            return
        acc = self.account
        if acc is None:
            raise ActionFailed(f"{kind} needs an account")
        if kind == "*cdrlog":
            self._cdrlog(action)
        elif kind in BALANCE_CHANGING:
            self._balance(action, acc)
        else:
            self._account_action(action, acc)

    def _account_action(self, action: Action, acc: Account) -> None:
        kind = action.identifier
        flags = {"*enable_account": ("disabled", False), "*disable_account": ("disabled", True),
                 "*allow_negative": ("allow_negative", True), "*deny_negative": ("allow_negative", False)}
        if kind in flags:
            name, value = flags[kind]
            setattr(acc, name, value)
        elif kind == "*remove_account":
            self.removed = True
        elif kind == "*reset_account":
            for bal in acc.balances:
                bal.value = ZERO
            acc.counters.clear()
            for trig in acc.triggers:
                trig.executed = False
        elif kind == "*remove_balance":
            matching = [b for b in acc.balances if _matches(b, action.balance)]
            if not matching:
                raise ActionFailed("NOT_FOUND")
            acc.balances = [b for b in acc.balances if b not in matching]
        elif kind == "*remove_expired":
            acc.balances = [b for b in acc.balances if not (b.expired(self.now) and _type_ok(b, action.balance))]
        elif kind == "*set_expiry":
            for bal in acc.balances:
                if _matches(bal, action.balance):
                    bal.expiration = self._expiry(action.balance.expiry)
        elif kind in ("*reset_triggers", "*set_recurrent", "*unset_recurrent"):
            for trig in acc.triggers:
                if action.balance.type and trig.balance_type and trig.balance_type != action.balance.type:
                    continue
                if kind == "*reset_triggers":
                    trig.executed = False
                else:
                    trig.recurrent = kind == "*set_recurrent"
        elif kind == "*reset_counters":
            acc.counters.clear()

    def _expiry(self, text: str) -> dt.datetime | None:
        try:
            return parse_expiry(text, self.now)
        except BadTime as err:
            raise ActionFailed(f"UNSUPPORTED_FORMAT:{err}") from None

    def _balance(self, action: Action, acc: Account) -> None:
        kind, flt = action.identifier, action.balance
        if not flt.type:
            raise ActionFailed(f"{kind} needs a BalanceType")
        amount = flt.value if flt.value is not None else ZERO
        if kind == "*set_balance":
            self._set_balance(action, acc, amount)
            return
        delta = amount if kind.startswith("*topup") else -amount
        found = [b for b in acc.by_type(flt.type) if not b.expired(self.now) and _matches(b, flt)]
        for bal in found:
            if kind.endswith("_reset") or (kind == "*topup_zero_negative" and bal.value < 0):
                bal.value = ZERO
            bal.value += delta
            if delta < 0:
                count_debit(acc, flt.type, -delta)
            self._changes.append(BalanceChange(action, bal))
        if not found:
            bal = self._new_balance(flt, delta)
            acc.balances.append(bal)
            self._changes.append(BalanceChange(action, bal))

    def _new_balance(self, flt: BalanceFilter, value: Decimal) -> Balance:
        if flt.id == "*default":
            return Balance(type=flt.type, id="*default", value=value)
        return Balance(
            type=flt.type, uuid=new_uuid(), id=flt.id, value=value, expiration=self._expiry(flt.expiry),
            weight=flt.weight or 0.0, blocker=bool(flt.blocker), disabled=bool(flt.disabled),
            destination_ids=dict(flt.destination_ids or {}), categories=dict(flt.categories or {}),
            rating_subject=flt.rating_subject, shared_groups=dict(flt.shared_groups or {}),
            timing_ids=dict(flt.timing_ids or {}),
        )

    def _set_balance(self, action: Action, acc: Account, amount: Decimal) -> None:
        flt = action.balance
        if flt.uuid:
            target = next((b for b in acc.balances if b.uuid == flt.uuid), None)
            if target is None:
                raise ActionFailed("NOT_FOUND")
        else:
            target = next((b for b in acc.by_type(flt.type) if b.id == flt.id), None)
        if target is None:
            target = self._new_balance(flt, amount)
            acc.balances.append(target)
        else:
            if flt.value is not None:
                target.value = amount
            if flt.expiry:
                target.expiration = self._expiry(flt.expiry)
            for name in ("weight", "blocker", "disabled", "destination_ids", "categories", "shared_groups",
                         "timing_ids"):
                given = getattr(flt, name)
                if given is not None:
                    setattr(target, name, given)
            if flt.rating_subject:
                target.rating_subject = flt.rating_subject
        self._changes.append(BalanceChange(action, target))

    # --- side effects -----------------------------------------------------------------------
    def _cdrlog(self, action: Action) -> None:
        assert self.account is not None
        for change in self._changes:
            self.cdrs.append(cdrlog_record(self.account, change.action, change.balance, action.extra_parameters,
                                           self.now))

    def _post(self, action: Action) -> None:
        url = action.extra_parameters.strip() or self.default_post_url
        if not url:
            log.warning("%s without a URL (ExtraParameters empty, no charging.http_post_url): skipped",
                        action.identifier)
            return
        body = json.dumps(self.account.to_api() if self.account else None).encode()
        post = Post(url, body, action.identifier == "*http_post")
        if post.synchronous and self.post_sync is not None:
            try:
                self.post_sync(post)
            except MustBlock:
                raise
            except Exception as err:
                raise ActionFailed(f"*http_post to {url} failed: {err}") from None
        else:
            self.posts.append(post)


def _type_ok(bal: Balance, flt: BalanceFilter) -> bool:
    return not flt.type or bal.type == flt.type


def _matches(bal: Balance, flt: BalanceFilter) -> bool:
    """CGrateS's Balance.MatchFilter: by UUID, else by ID, else by every attribute the filter sets."""
    if not _type_ok(bal, flt):
        return False
    if flt.uuid:
        return bal.uuid == flt.uuid
    if flt.id:
        return bal.id == flt.id
    return ((flt.weight is None or bal.weight == flt.weight)
            and (flt.blocker is None or bal.blocker == flt.blocker)
            and (flt.disabled is None or bal.disabled == flt.disabled)
            and (flt.destination_ids is None or _includes(bal.destination_ids, flt.destination_ids))
            and (flt.categories is None or _includes(bal.categories, flt.categories))
            and (not flt.rating_subject or bal.rating_subject == flt.rating_subject))


def _includes(have: dict[str, bool], want: dict[str, bool]) -> bool:
    return all(have.get(k) == v for k, v in want.items())


def count_debit(acc: Account, balance_type: str, amount: Decimal) -> None:
    """The unit counters *min/max_event_counter triggers read: debit events and debited units per type."""
    acc.counters[f"*event:{balance_type}"] = acc.counters.get(f"*event:{balance_type}", ZERO) + 1
    acc.counters[f"*balance:{balance_type}"] = acc.counters.get(f"*balance:{balance_type}", ZERO) + amount
