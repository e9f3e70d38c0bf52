"""The CGrateS v0.10 JSON-RPC methods (APIerSv1/APIerSv2 and their ApierV1/ApierV2 aliases, CDRsV1,
CoreSv1) over the charging engine. Each method takes the request's first parameter and returns the
result, or raises `RpcError` with CGrateS's error string."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from typing import Any

from sigcore.charging.actions import Action, ActionError, BalanceFilter, field_of, parse_action
from sigcore.charging.engine import ChargingEngine, NotFound
from sigcore.charging.errors import EXISTS, NOT_FOUND, PARTIALLY_EXECUTED, SERVER_NOT_FOUND, RpcError, mandatory_missing
from sigcore.charging.executor import ActionFailed
from sigcore.charging.model import Account, Trigger, new_uuid
from sigcore.charging.params import Params
from sigcore.charging.repo import Exists, NameTooLong
from sigcore.charging.times import BadTime, parse_absolute, parse_expiry, rfc3339
from sigcore.charging.timings import BadTiming, Timing, parse_timing
from sigcore.charging.values import BadValue, string_set, to_bool, to_decimal

OK = "OK"
Method = Callable[["ChargingApi", Params, str], Any]
_METHODS: dict[str, Method] = {}
_APIER_PREFIXES = {"APIerSv1": "v1", "ApierV1": "v1", "APIerSv2": "v2", "ApierV2": "v2"}


def method(*names: str) -> Callable[[Method], Method]:
    def register(fn: Method) -> Method:
        for name in names:
            _METHODS[name] = fn
        return fn
    return register


def method_names() -> list[str]:
    """Every name answered: each APIer method under the four prefixes, plus CDRsV1 and CoreSv1."""
    names = []
    for name in _METHODS:
        if "." in name:
            names.append(name)
        else:
            names.extend(f"{prefix}.{name}" for prefix in _APIER_PREFIXES)
    return sorted(names)


class ChargingApi:
    def __init__(self, engine: ChargingEngine, default_tenant: str = "cgrates.org") -> None:
        self.engine = engine
        self.store = engine.store
        self.default_tenant = default_tenant
        self.started = time.time()

    def call(self, name: str, raw: Any) -> Any:
        """Dispatch one request; unknown names get Go's net/rpc messages."""
        service, _, short = name.partition(".")
        version = _APIER_PREFIXES.get(service)
        fn = _METHODS.get(short) if version else _METHODS.get(name)
        if fn is None:
            if version is None and not any(k.startswith(service + ".") for k in _METHODS):
                raise RpcError(f"rpc: can't find service {name}")
            raise RpcError(f"rpc: can't find method {name}")
        bare_id = isinstance(raw, str) and fn is get_actions  # v1 GetActions takes a bare string
        params = raw if bare_id else Params(raw if raw is not None else {}, self.default_tenant)
        try:
            return fn(self, params, version or "v1")
        except NotFound:
            raise RpcError(NOT_FOUND) from None
        except Exists:
            raise RpcError(EXISTS) from None
        except ActionFailed:
            raise RpcError(PARTIALLY_EXECUTED) from None
        except (BadTime, BadValue, BadTiming, NameTooLong) as err:
            raise RpcError(f"UNSUPPORTED_FORMAT:{err}") from None

    # --- accounts --------------------------------------------------------------------------------
    def _account(self, p: Params) -> Account:
        p.require("Account")
        acc = self.store.get_account(p.tenant, p.text("Account"))
        if acc is None:
            raise RpcError(NOT_FOUND)
        return acc


def _balance_filter(p: Params, kind: str) -> BalanceFilter:
    """AddBalance/DebitBalance/SetBalance's ``Balance`` map plus BalanceType and Value (made absolute)."""
    bal = p.mapping("Balance")
    value = p.number("Value")
    if value == 0 and bal.get("Value") is not None:
        value = to_decimal(bal["Value"])
    weight = bal.get("Weight")
    return BalanceFilter(
        type=p.text("BalanceType"), uuid=str(bal.get("UUID") or bal.get("Uuid") or ""), id=str(bal.get("ID") or ""),
        value=abs(value) if (value != 0 or kind != "*set_balance") else None,
        expiry=str(bal.get("ExpiryTime") or bal.get("ExpirationDate") or ""),
        weight=None if weight is None else float(to_decimal(weight)),
        blocker=None if bal.get("Blocker") is None else to_bool(bal["Blocker"]),
        disabled=None if bal.get("Disabled") is None else to_bool(bal["Disabled"]),
        destination_ids=string_set(bal["DestinationIDs"]) if bal.get("DestinationIDs") else None,
        categories=string_set(bal["Categories"]) if bal.get("Categories") else None,
        rating_subject=str(bal.get("RatingSubject") or ""),
        shared_groups=string_set(bal["SharedGroups"]) if bal.get("SharedGroups") else None,
        timing_ids=string_set(bal["TimingIDs"]) if bal.get("TimingIDs") else None,
    )


@method("SetAccount")
def set_account(api: ChargingApi, p: Params, _v: str) -> str:
    p.require("Account")
    options = {k: to_bool(v) for k, v in p.mapping("ExtraOptions").items() if k in ("AllowNegative", "Disabled")}
    for flag in ("AllowNegative", "Disabled"):  # v0.9's top-level flags
        if p.get(flag) is not None and flag not in options:
            options[flag] = p.flag(flag)
    plans = p.texts("ActionPlanIDs", "ActionPlanID")
    triggers = p.texts("ActionTriggerIDs", "ActionTriggersID", "ActionTriggersId")
    try:
        api.engine.set_account(p.tenant, p.text("Account"), options=options, plan_ids=plans,
                               plans_overwrite=p.flag("ActionPlansOverwrite") or bool(p.get("ActionPlanID")),
                               trigger_ids=triggers, triggers_overwrite=p.flag("ActionTriggerOverwrite"))
    except NotFound:
        raise RpcError(SERVER_NOT_FOUND) from None
    return OK


@method("GetAccount")
def get_account(api: ChargingApi, p: Params, version: str) -> Any:
    acc = api._account(p)
    return acc.to_api() if version == "v2" else acc.to_api_v1()


@method("GetAccounts")
def get_accounts(api: ChargingApi, p: Params, _v: str) -> Any:
    wanted = set(p.texts("AccountIDs"))
    found = [a for a in api.store.list_accounts(p.tenant) if not wanted or a.name in wanted]
    flt = p.mapping("Filter")
    if "Disabled" in flt:
        found = [a for a in found if a.disabled == to_bool(flt["Disabled"])]
    offset, limit = p.count("Offset"), p.count("Limit")
    found = found[offset:offset + limit] if limit else found[offset:]
    return [a.to_api() for a in found]


@method("RemoveAccount")
def remove_account(api: ChargingApi, p: Params, _v: str) -> str:
    p.require("Account")
    if not api.store.remove_account(p.tenant, p.text("Account")):
        raise RpcError(NOT_FOUND)
    return OK


def _modify(api: ChargingApi, p: Params, kind: str) -> str:
    p.require("Account", "BalanceType")
    flt = _balance_filter(p, kind)
    if kind == "*set_balance" and not flt.id and not flt.uuid:
        raise mandatory_missing("BalanceID", "or", "BalanceUUID")
    if p.flag("Overwrite") and kind != "*set_balance":
        kind += "_reset"
    extra = p.get("ActionExtraData")
    api.engine.balance_action(p.tenant, p.text("Account"), kind, flt, p.flag("Cdrlog"),
                              extra if isinstance(extra, dict) else None)
    return OK


@method("AddBalance")
def add_balance(api: ChargingApi, p: Params, _v: str) -> str:
    return _modify(api, p, "*topup")


@method("DebitBalance")
def debit_balance(api: ChargingApi, p: Params, _v: str) -> str:
    return _modify(api, p, "*debit")


@method("SetBalance")
def set_balance(api: ChargingApi, p: Params, _v: str) -> str:
    return _modify(api, p, "*set_balance")


@method("RemoveBalances")
def remove_balances(api: ChargingApi, p: Params, _v: str) -> str:
    p.require("Account", "BalanceType")
    flt = _balance_filter(p, "*remove_balance")
    api.engine.run(p.tenant, p.text("Account"), [Action("*remove_balance", 0.0, flt)], create=False)
    return OK


# --- actions ------------------------------------------------------------------------------------
@method("SetActions")
def set_actions(api: ChargingApi, p: Params, _v: str) -> str:
    p.require("ActionsId", "Actions")
    raw = p.get("Actions")
    if not isinstance(raw, list):
        raise RpcError("UNSUPPORTED_FORMAT:Actions")
    try:
        actions = [parse_action(a if isinstance(a, dict) else {}) for a in raw]
    except ActionError as err:
        raise RpcError(str(err)) from None
    api.store.set_document("actions", p.text("ActionsId"), [a.to_doc() for a in actions], p.flag("Overwrite"))
    return OK


@method("GetActions")
def get_actions(api: ChargingApi, p: Params | str, version: str) -> Any:
    if isinstance(p, str):  # v1: a bare id
        actions = api.store.actions(p)
        if actions is None:
            raise RpcError(SERVER_NOT_FOUND)
        return [a.to_api() for a in actions]
    ids = p.texts("ActionIDs")
    found = api.store.list_documents("actions")
    if ids:
        found = {k: v for k, v in found.items() if k in ids}
    if not found:
        raise RpcError(NOT_FOUND)
    return {k: [Action.from_doc(a).to_api() for a in v] for k, v in found.items()}


@method("RemoveActions")
def remove_actions(api: ChargingApi, p: Params, _v: str) -> str:
    p.require("ActionIDs")
    removed = [api.store.remove_document("actions", i) for i in p.texts("ActionIDs")]
    if not any(removed):
        raise RpcError(NOT_FOUND)
    return OK


@method("ExecuteAction")
def execute_action(api: ChargingApi, p: Params, _v: str) -> str:
    p.require("ActionsId")
    if p.text("Account"):
        api.engine.execute(p.tenant, p.text("Account"), p.text("ActionsId"))
    else:
        actions = api.store.actions(p.text("ActionsId"))
        if actions is None:
            raise RpcError(NOT_FOUND)
        api.engine.run_without_account(actions)
    return OK


# --- action plans ---------------------------------------------------------------------------------
@method("SetActionPlan")
def set_action_plan(api: ChargingApi, p: Params, _v: str) -> str:
    p.require("Id", "ActionPlan")
    plan_id = p.text("Id")
    entries = p.get("ActionPlan")
    if not isinstance(entries, list):
        raise RpcError("UNSUPPORTED_FORMAT:ActionPlan")
    timings = []
    for entry in entries:
        entry = entry if isinstance(entry, dict) else {}
        actions_id = str(field_of(entry, "ActionsId") or "")
        if api.store.get_document("actions", actions_id) is None:
            raise RpcError(f"BROKEN_REFERENCE:{actions_id}")
        timings.append(parse_timing(new_uuid(), entry, field_of))
    overwrite = p.flag("Overwrite")
    api.store.set_document("plan", plan_id, {"timings": [t.to_doc() for t in timings],
                                             "created": rfc3339(api.engine.now)}, overwrite)
    if overwrite:
        api.store.unbind_plan(plan_id)
    return OK


def _plan_api(api: ChargingApi, plan_id: str, plan: dict[str, Any]) -> dict[str, Any]:
    accounts = {f"{t}:{a}": True for t, a, _s in api.store.plan_accounts(plan_id)}
    return {"Id": plan_id, "AccountIDs": accounts or None, "ActionTimings": [{
        "Uuid": t["uuid"], "ActionsID": t["actions_id"], "Weight": t["weight"],
        "Timing": {"Timing": {"Years": t["years"], "Months": t["months"], "MonthDays": t["month_days"],
                              "WeekDays": t["week_days"], "StartTime": t["time"]}},
    } for t in plan["timings"]]}


@method("GetActionPlan")
def get_action_plan(api: ChargingApi, p: Params, _v: str) -> Any:
    wanted = p.text("ID", "Id")
    plans = api.store.list_documents("plan")
    if wanted not in ("", "*"):
        plans = {k: v for k, v in plans.items() if k == wanted}
    if not plans:
        raise RpcError(NOT_FOUND)
    return [_plan_api(api, k, v) for k, v in plans.items()]


@method("RemoveActionPlan")
def remove_action_plan(api: ChargingApi, p: Params, _v: str) -> str:
    p.require("ID")
    if not api.store.remove_document("plan", p.text("ID")):
        raise RpcError(NOT_FOUND)
    return OK


@method("GetAccountActionPlan")
def get_account_action_plan(api: ChargingApi, p: Params, _v: str) -> Any:
    p.require("Account")
    now = api.engine.now
    out = []
    for plan_id in api.store.account_plans(p.tenant, p.text("Account")):
        plan = api.store.get_document("plan", plan_id) or {"timings": []}
        for doc in plan["timings"]:
            timing = Timing.from_doc(doc)
            nxt = timing.next_slot(now)
            out.append({"ActionPlanId": plan_id, "Uuid": timing.uuid, "ActionsId": timing.actions_id,
                        "NextExecTime": rfc3339(nxt)})
    return out


# --- action triggers ------------------------------------------------------------------------------
def _apply_trigger_map(trig: Trigger, data: dict[str, Any], now: dt.datetime) -> None:
    """CGrateS's UpdateActionTrigger: the keys present (case-sensitive, as in a Go map) are applied."""
    if "ThresholdType" in data:
        trig.threshold_type = str(data["ThresholdType"])
    if "ThresholdValue" in data:
        trig.threshold = to_decimal(data["ThresholdValue"])
    if "Recurrent" in data:
        trig.recurrent = to_bool(data["Recurrent"])
    if "Executed" in data:
        trig.executed = to_bool(data["Executed"])
    if "MinSleep" in data:
        ms = data["MinSleep"]
        trig.min_sleep_s = float(to_decimal(ms)) / 1e9 if ms not in ("", None) else 0.0
    if "ExpirationDate" in data:
        trig.expiration = parse_expiry(str(data["ExpirationDate"]), now)
    if "ActivationDate" in data:
        trig.activation = parse_expiry(str(data["ActivationDate"]), now)
    if "BalanceID" in data:
        trig.balance_id = str(data["BalanceID"] or "")
    if "BalanceType" in data:
        trig.balance_type = str(data["BalanceType"] or "")
    if "BalanceDestinationIds" in data:
        trig.balance_destination_ids = string_set(data["BalanceDestinationIds"])
    if "Weight" in data:
        trig.weight = float(to_decimal(data["Weight"]))
    if "ActionsID" in data:
        trig.actions_id = str(data["ActionsID"])


def _new_trigger(group_id: str, unique_id: str) -> Trigger:
    return Trigger(group_id=group_id, threshold_type="", threshold=to_decimal(0), actions_id="",
                   unique_id=unique_id or new_uuid())


def _edit_trigger_list(triggers: list[Trigger], p: Params, now: dt.datetime) -> None:
    group, unique = p.text("GroupID"), p.text("UniqueID")
    data = p.mapping("ActionTrigger")
    matched = [t for t in triggers if t.group_id == group and (not unique or t.unique_id == unique)]
    if not matched:
        trig = _new_trigger(group, unique)
        triggers.append(trig)
        matched = [trig]
    for trig in matched:
        _apply_trigger_map(trig, data, now)


@method("SetActionTrigger")
def set_action_trigger(api: ChargingApi, p: Params, _v: str) -> str:
    p.require("GroupID")
    group = p.text("GroupID")
    doc = api.store.get_document("triggers", group) or []
    triggers = [Trigger.from_doc(t) for t in doc]
    _edit_trigger_list(triggers, p, api.engine.now)
    api.store.set_document("triggers", group, [t.to_doc() for t in triggers], overwrite=True)
    return OK


@method("GetActionTriggers")
def get_action_triggers(api: ChargingApi, p: Params, _v: str) -> Any:
    groups = api.store.list_documents("triggers")
    wanted = p.texts("GroupIDs")
    out = [Trigger.from_doc(t).to_api() for g, doc in groups.items() if not wanted or g in wanted for t in doc]
    if not out:
        raise RpcError(NOT_FOUND)
    return out


@method("RemoveActionTrigger")
def remove_action_trigger(api: ChargingApi, p: Params, _v: str) -> str:
    p.require("GroupID")
    group, unique = p.text("GroupID"), p.text("UniqueID")
    if not unique:
        api.store.remove_document("triggers", group)
        return OK
    doc = api.store.get_document("triggers", group) or []
    api.store.set_document("triggers", group, [t for t in doc if t["UniqueID"] != unique], overwrite=True)
    return OK


@method("SetAccountActionTriggers")
def set_account_action_triggers(api: ChargingApi, p: Params, _v: str) -> str:
    p.require("Account")
    now = api.engine.now
    api.engine.edit_triggers(p.tenant, p.text("Account"), lambda acc: _edit_trigger_list(acc.triggers, p, now),
                             evaluate=True)
    return OK


@method("AddAccountActionTriggers")
def add_account_action_triggers(api: ChargingApi, p: Params, _v: str) -> str:
    p.require("Account")
    activation = parse_expiry(p.text("ActivationDate"), api.engine.now)
    api.engine.add_triggers(p.tenant, p.text("Account"), p.texts("ActionTriggerIDs"),
                            p.flag("ActionTriggerOverwrite"), activation, p.flag("Executed"))
    return OK


@method("GetAccountActionTriggers")
def get_account_action_triggers(api: ChargingApi, p: Params, _v: str) -> Any:
    acc = api._account(p)
    return [t.to_api() for t in acc.triggers]


def _selected(trig: Trigger, p: Params) -> bool:
    group, unique = p.text("GroupID"), p.text("UniqueID")
    return (not unique or trig.unique_id == unique) and (not group or trig.group_id == group)


@method("RemoveAccountActionTriggers")
def remove_account_action_triggers(api: ChargingApi, p: Params, _v: str) -> str:
    p.require("Account")

    def edit(acc: Account) -> None:
        acc.triggers = [t for t in acc.triggers if not _selected(t, p)]
    api.engine.edit_triggers(p.tenant, p.text("Account"), edit, evaluate=False)
    return OK


@method("ResetAccountActionTriggers")
def reset_account_action_triggers(api: ChargingApi, p: Params, _v: str) -> str:
    p.require("Account")
    executed = p.flag("Executed")

    def edit(acc: Account) -> None:
        for trig in acc.triggers:
            if _selected(trig, p):
                trig.executed = executed
    api.engine.edit_triggers(p.tenant, p.text("Account"), edit, evaluate=not executed)
    return OK


# --- CDRs and status --------------------------------------------------------------------------------
def _time_or_none(text: str) -> dt.datetime | None:
    return parse_absolute(text) if text else None


@method("GetCDRs", "CDRsV1.GetCDRs")
def get_cdrs(api: ChargingApi, p: Params, _v: str) -> Any:
    found = api.store.get_cdrs(
        tenants=p.texts("Tenants"), accounts=p.texts("Accounts"), sources=p.texts("Sources"),
        run_ids=p.texts("RunIDs"), cgrids=p.texts("CGRIDs"), request_types=p.texts("RequestTypes"),
        setup_start=_time_or_none(p.text("SetupTimeStart")), setup_end=_time_or_none(p.text("SetupTimeEnd")),
        offset=p.count("Offset"), limit=p.count("Limit") or None)
    if not found:
        raise RpcError(NOT_FOUND)
    return found


@method("CoreSv1.Ping")
def ping(_api: ChargingApi, _p: Params, _v: str) -> str:
    return "Pong"


@method("CoreSv1.Status")
def status(api: ChargingApi, _p: Params, _v: str) -> Any:
    from sigcore import __version__

    return {"node_id": os.uname().nodename, "version": f"sigcore {__version__}",
            "running_since": rfc3339(dt.datetime.fromtimestamp(api.started, dt.UTC)),
            "goroutines": 0, "pid": os.getpid()}
