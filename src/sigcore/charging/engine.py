"""The charging engine's operations, shared by JSON-RPC, the scheduler and Gy: run actions on accounts
(all-or-nothing, triggers in the same transaction), attach plans, manage trigger groups."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from sigcore.charging.actions import Action, BalanceFilter
from sigcore.charging.executor import ActionFailed, ActionRun
from sigcore.charging.model import Account, Trigger
from sigcore.charging.posts import Poster
from sigcore.charging.repo import ChargingStore

log = logging.getLogger("sigcore.charging")


class NotFound(Exception):
    """The named account, action set, plan or trigger group does not exist."""


class ChargingEngine:
    def __init__(self, store: ChargingStore, poster: Poster | None = None, default_post_url: str = "") -> None:
        self.store = store
        self.poster = poster or Poster()
        self.default_post_url = default_post_url
        #: Called with the account after a change that can matter to Gy sessions (disable, top-up).
        self.on_account_change: Callable[[Account], None] | None = None

    @property
    def now(self) -> dt.datetime:
        return self.store.clock()

    def run(self, tenant: str, name: str, actions: list[Action], *, create: bool,
            claim: Callable[[Connection], bool] | None = None) -> bool:
        """Run `actions` on the account (created if asked); False when it does not exist (nothing ran).
        Raises `ActionFailed` with nothing kept when one action fails. `claim` (the scheduler's slot claim)
        runs in the same transaction first: False means another run had it, and nothing runs."""
        with self.store.locked_account(tenant, name, create=create) as (conn, slot):
            if slot.account is None:
                return False
            if claim is not None and not claim(conn):
                return False
            before = self._snapshot(slot.account)
            job = ActionRun(slot.account, self.now, lambda n: self.store.actions(n, conn),
                            self.default_post_url, self.poster.post)
            job.run(actions)
            self.store.add_cdrs(conn, job.cdrs)
            slot.removed = job.removed
            account = slot.account
        self._after(job, account, before)
        return True

    def run_without_account(self, actions: list[Action]) -> None:
        job = ActionRun(None, self.now, self.store.actions, self.default_post_url, self.poster.post)
        job.run(actions)
        for post in job.posts:
            self.poster.submit(post)

    def _snapshot(self, account: Account) -> tuple[bool, dict[str, Any]]:
        return account.disabled, {t: account.total(t, self.now) for t in {b.type for b in account.balances}}

    def _after(self, job: ActionRun, account: Account, before: tuple[bool, dict[str, Any]]) -> None:
        """Queue the async posts; tell Gy when the account was disabled/enabled, removed or topped up
        (a total grew: its sessions may get more now)."""
        for post in job.posts:
            self.poster.submit(post)
        disabled, totals = self._snapshot(account)
        grew = any(v > before[1].get(t, 0) for t, v in totals.items())
        if self.on_account_change is not None and (job.removed or disabled != before[0] or grew):
            self.on_account_change(account)

    def execute(self, tenant: str, name: str, actions_id: str) -> None:
        actions = self.store.actions(actions_id)
        if actions is None:
            raise NotFound(actions_id)
        if not self.run(tenant, name, actions, create=False):
            log.info("ExecuteAction %s: no account %s:%s, skipped", actions_id, tenant, name)

    def balance_action(self, tenant: str, name: str, kind: str, balance: BalanceFilter, cdrlog: bool,
                       extra_data: dict[str, Any] | None) -> None:
        """AddBalance / DebitBalance / SetBalance: one balance action (+ *cdrlog), creating the account."""
        actions = [Action(kind, 10.0, balance)]
        if cdrlog:
            actions.append(Action("*cdrlog", 0.0, BalanceFilter(), json.dumps(extra_data) if extra_data else ""))
        self.run(tenant, name, actions, create=True)

    # --- accounts ------------------------------------------------------------------------------
    def set_account(self, tenant: str, name: str, *, options: dict[str, bool], plan_ids: list[str],
                    plans_overwrite: bool, trigger_ids: list[str], triggers_overwrite: bool) -> None:
        """SetAccount (v1 and v2): create or update, attach plans (running *asap timings), set triggers."""
        plans = {}
        for plan_id in plan_ids:
            plan = self.store.get_document("plan", plan_id)
            if plan is None:
                raise NotFound(plan_id)
            plans[plan_id] = plan
        groups = [self._trigger_group(g) for g in trigger_ids]
        with self.store.locked_account(tenant, name, create=True) as (_conn, slot):
            acc = slot.account
            assert acc is not None
            was_disabled = acc.disabled
            if "AllowNegative" in options:
                acc.allow_negative = options["AllowNegative"]
            if "Disabled" in options:
                acc.disabled = options["Disabled"]
            if triggers_overwrite and trigger_ids:
                acc.triggers = []
            for group in groups:
                for trig in group:
                    if not any(t.unique_id == trig.unique_id for t in acc.triggers):
                        acc.triggers.append(trig)
        if acc.disabled != was_disabled and self.on_account_change is not None:
            self.on_account_change(acc)
        if plans_overwrite and plan_ids:
            self.store.unbind_plans(tenant, name, except_plans=plan_ids)
        for plan_id, plan in plans.items():
            if self.store.bind_plan(plan_id, tenant, name):
                self._run_asap(tenant, name, plan)

    def _run_asap(self, tenant: str, name: str, plan: dict[str, Any]) -> None:
        for timing in sorted(plan["timings"], key=lambda x: -x["weight"]):
            if timing["time"] != "*asap":
                continue
            actions = self.store.actions(timing["actions_id"])
            if actions is None:
                log.warning("plan timing %s: action set %s is gone", timing["uuid"], timing["actions_id"])
                continue
            try:
                self.run(tenant, name, actions, create=False)
            except ActionFailed as err:
                log.warning("*asap %s on %s:%s: %s", timing["actions_id"], tenant, name, err)

    def _trigger_group(self, group_id: str) -> list[Trigger]:
        doc = self.store.get_document("triggers", group_id)
        if doc is None:
            raise NotFound(group_id)
        return [Trigger.from_doc(t) for t in doc]

    def add_triggers(self, tenant: str, name: str, group_ids: list[str], overwrite: bool,
                     activation: dt.datetime | None, executed: bool) -> None:
        groups = [self._trigger_group(g) for g in group_ids]
        with self.store.locked_account(tenant, name, create=False) as (_conn, slot):
            if slot.account is None:
                raise NotFound(name)
            if overwrite:
                slot.account.triggers = []
            for group in groups:
                for trig in group:
                    trig.activation, trig.executed = activation, executed
                    if not any(t.unique_id == trig.unique_id for t in slot.account.triggers):
                        slot.account.triggers.append(trig)

    def edit_triggers(self, tenant: str, name: str, edit: Callable[[Account], None], *, evaluate: bool) -> None:
        """Change an account's triggers, then (SetAccountActionTriggers) evaluate them at once."""
        with self.store.locked_account(tenant, name, create=False) as (conn, slot):
            if slot.account is None:
                raise NotFound(name)
            edit(slot.account)
            if evaluate:
                job = ActionRun(slot.account, self.now, lambda n: self.store.actions(n, conn),
                                self.default_post_url, self.poster.post)
                job.fire_triggers()
                self.store.add_cdrs(conn, job.cdrs)
            account = slot.account
        if evaluate:
            self._after(job, account, (not account.disabled, {}))
