"""The durable action plan scheduler.

Each pass looks at every plan attached to an account and, per timing and account, at the latest slot due
since the account was attached. That slot's run is claimed by inserting its row (plan, timing, slot,
account) in the transaction that runs the actions: the unique key makes it run once even with several
processes on one database, and a restart finds it claimed. A slot missed while no process ran is still
the latest due slot at start, so it runs once; older missed slots are not replayed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading

from sigcore.charging.engine import ChargingEngine
from sigcore.charging.executor import ActionFailed
from sigcore.charging.timings import Timing
from sigcore.periodic import Periodic

log = logging.getLogger("sigcore.charging.scheduler")


class PlanScheduler:
    def __init__(self, engine: ChargingEngine, interval: float = 1.0) -> None:
        self.engine = engine
        self.store = engine.store
        self.interval = interval
        self._seen: dict[tuple[str, str, str, str], dt.datetime] = {}
        self._loop = Periodic(self._pass, interval, "charging-scheduler", first_at_start=True)
        self.first_pass_done = threading.Event()  # the start-up pass (missed slots) has finished

    def tick(self, now: dt.datetime | None = None) -> int:
        """One pass; the number of (slot, account) runs this process made."""
        now = now or self.engine.now
        runs = 0
        for plan_id in self.store.bound_plans():
            plan = self.store.get_document("plan", plan_id)
            if plan is None:
                continue
            timings = [Timing.from_doc(d) for d in plan["timings"] if d["time"] != "*asap"]
            if not timings:
                continue
            accounts = self.store.plan_accounts(plan_id)
            for timing in sorted(timings, key=lambda x: -x.weight):
                for tenant, account, since in accounts:
                    runs += self._due(plan_id, timing, tenant, account, since, now)
        return runs

    def _due(self, plan_id: str, timing: Timing, tenant: str, account: str, since: dt.datetime,
             now: dt.datetime) -> int:
        slot = timing.latest_slot(now, since)
        key = (plan_id, timing.uuid, tenant, account)
        if slot is None or self._seen.get(key) == slot:
            return 0
        actions = self.store.actions(timing.actions_id)
        if actions is None:
            log.warning("plan %s: action set %s is gone", plan_id, timing.actions_id)
            return 0
        try:
            ran = self.engine.run(tenant, account, actions, create=False,
                                  claim=lambda conn: self.store.claim_slot(conn, plan_id, timing.uuid, slot,
                                                                           tenant, account))
        except ActionFailed as err:
            log.warning("plan %s slot %s on %s:%s: %s (nothing kept)", plan_id, slot.isoformat(), tenant,
                        account, err)
            ran = False
        self._seen[key] = slot
        if ran:
            log.info("plan %s ran %s on %s:%s for slot %s", plan_id, timing.actions_id, tenant, account,
                     slot.isoformat())
        return int(ran)

    async def _pass(self) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.tick)
        except Exception:
            log.exception("action plan scheduler pass failed")
        self.first_pass_done.set()

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        """Return once the pass in progress (in a thread, writing to the store) has ended."""
        await self._loop.stop()
