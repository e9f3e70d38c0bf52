"""The seed's CGrateS "Actions & Action Plans" script, request for request, against sigcore's JSON-RPC."""

from __future__ import annotations

import datetime as dt
from typing import Any

from charging_engine import Engine, Receiver

from sigcore.charging.times import add_months

ACCOUNT = "Nick_Test_123"


def signup_bonus_actions() -> dict[str, Any]:
    """The seed's final Action_Add_Signup_Bonus (topup + cdrlog + http_post_async + log), keys as printed."""
    common = {"BalanceUuid": "", "Directions": "*out", "Filter": "", "TimingTags": "", "DestinationIds": "",
              "RatingSubject": "", "Categories": "", "SharedGroups": "", "BalanceBlocker": "false",
              "BalanceDisabled": "false"}
    return {
        "id": "0",
        "method": "ApierV1.SetActions",
        "params": [{
            "ActionsId": "Action_Add_Signup_Bonus",
            "Actions": [
                {"Identifier": "*topup", "BalanceId": "Balance_Signup_Bonus", "BalanceType": "*monetary",
                 "Units": 99, "ExpiryTime": "*month", "BalanceWeight": 1200, "ExtraParameters": "", "Weight": 90,
                 **common},
                {"Identifier": "*cdrlog", "BalanceId": "", "BalanceType": "*monetary", "Units": 0, "ExpiryTime": "",
                 "BalanceWeight": 0,
                 "ExtraParameters": "{\"Category\":\"^activation\",\"Destination\":\"Your sign up Bonus\"}",
                 "Weight": 80, **common},
                {"Identifier": "*http_post_async", "ExtraParameters": "", "ExpiryTime": "*unlimited", "Weight": 70},
                {"Identifier": "*log", "Weight": 60},
            ],
        }],
    }


def get_account(engine: Engine, account: str) -> dict[str, Any]:
    status, answer = engine.post({"method": "ApierV2.GetAccount", "params": [{"Tenant": "", "Account": account}]})
    assert status == 200
    assert answer["id"] is None and answer["error"] is None, answer
    return answer["result"]  # type: ignore[no-any-return]


def assert_signup_bonus(engine: Engine, receiver: Receiver, account: str, before: dt.datetime) -> None:
    after = engine.clock()
    result = get_account(engine, account)
    assert result["ID"] == f"cgrates.org:{account}"
    assert list(result["BalanceMap"]) == ["*monetary"]
    (balance,) = result["BalanceMap"]["*monetary"]
    assert balance["Value"] == 99 and balance["ID"] == "Balance_Signup_Bonus" and balance["Weight"] == 1200
    assert (balance["Blocker"], balance["Disabled"], balance["Categories"], balance["DestinationIDs"]) == (
        False, False, {}, {})
    expires = dt.datetime.fromisoformat(balance["ExpirationDate"].replace("Z", "+00:00"))
    assert add_months(before, 1) <= expires <= add_months(after, 1)
    assert result["AllowNegative"] is False and result["Disabled"] is False

    cdrs = engine.ok("APIerSv2.GetCDRs", {"Sources": ["*cdrlog"], "Accounts": [account]})
    assert len(cdrs) == 1
    cdr = cdrs[0]
    assert (cdr["Category"], cdr["Destination"], cdr["Cost"], cdr["RunID"], cdr["ToR"], cdr["Tenant"]) == (
        "activation", "Your sign up Bonus", 99, "*topup", "*monetary", "cgrates.org")

    assert receiver.arrived.wait(10), "the *http_post_async POST never arrived"
    posted = [b for b in receiver.bodies if b["ID"] == f"cgrates.org:{account}"]
    assert posted and posted[0]["BalanceMap"]["*monetary"][0]["Value"] == 99


def test_seed_execute_action(engine: Engine, receiver: Receiver) -> None:
    status, answer = engine.post({"method": "ApierV2.SetAccount", "params": [{"Tenant": "", "Account": ACCOUNT}]})
    assert (status, answer) == (200, {"id": None, "result": "OK", "error": None})
    status, answer = engine.post(signup_bonus_actions())
    assert (status, answer) == (200, {"id": "0", "result": "OK", "error": None})
    before = engine.clock()
    status, answer = engine.post({"method": "APIerSv1.ExecuteAction", "params": [
        {"Tenant": "", "Account": ACCOUNT, "ActionsId": "Action_Add_Signup_Bonus"}]})
    assert answer == {"id": None, "result": "OK", "error": None}
    assert_signup_bonus(engine, receiver, ACCOUNT, before)


def test_seed_asap_action_plan_through_set_account(engine: Engine, receiver: Receiver) -> None:
    assert engine.post(signup_bonus_actions())[1]["error"] is None
    _status, answer = engine.post({
        "method": "ApierV1.SetActionPlan",
        "params": [{
            "Id": "ActionPlan_Signup_Bonus",
            "ActionPlan": [{"ActionsId": "Action_Add_Signup_Bonus", "Years": "*any", "Months": "*any",
                            "MonthDays": "*any", "WeekDays": "*any", "Time": "*asap", "Weight": 10}],
            "Overwrite": True,
            "ReloadScheduler": True,
        }],
    })
    assert answer == {"id": None, "result": "OK", "error": None}
    before = engine.clock()
    _status, answer = engine.post({"method": "ApierV2.SetAccount", "params": [{
        "Tenant": "", "Account": ACCOUNT, "ActionPlanIds": ["ActionPlan_Signup_Bonus"],
        "ActionPlansOverwrite": True}]})
    assert answer == {"id": None, "result": "OK", "error": None}
    assert_signup_bonus(engine, receiver, ACCOUNT, before)
    plans = engine.ok("APIerSv1.GetAccountActionPlan", {"Account": ACCOUNT})
    assert [(p["ActionPlanId"], p["ActionsId"]) for p in plans] == [
        ("ActionPlan_Signup_Bonus", "Action_Add_Signup_Bonus")]
