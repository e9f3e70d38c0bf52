"""Every JSON-RPC method, fed parameters of every JSON shape: a bad value gets a CGrateS-style error answer
(UNSUPPORTED_FORMAT, MANDATORY_IE_MISSING...), never SERVER_ERROR with a logged traceback, and every answer
is plain JSON (no NaN or infinity). Found by this fuzzing: lists given as numbers, Offset/Limit as words,
and "NaN"/"Infinity" amounts, which were taken as balances."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from charging_engine import Clock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sigcore.charging.api import method_names
from sigcore.charging.service import Charging, build_charging
from sigcore.config import ChargingConfig
from sigcore.store import Store, migrate

FIELDS = [
    "Account", "AccountIDs", "Accounts", "ActionIDs", "ActionPlanID", "ActionPlanIDs", "ActionTriggerIDs",
    "Actions", "ActionsId", "ActivationDate", "Balance", "BalanceType", "BalanceId", "BalanceUuid", "CGRIDs",
    "Categories", "ExpiryTime", "ExtraParameters", "GroupID", "GroupIDs", "ID", "Id", "Identifier", "Limit",
    "Offset", "Overwrite", "RequestTypes", "RunIDs", "SetupTimeEnd", "SetupTimeStart", "Sources", "Tenant",
    "Tenants", "ThresholdType", "ThresholdValue", "Timing", "Timings", "Units", "Value", "Weight",
]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", " ", "x", "a", "NaN", "-Infinity", "sNaN", "1e999", "1h", "*monetary", "*asap",
                     "*monthly", "*topup", "*debit", "2026-01-01T00:00:00Z", "*any", "cgrates.org", "5"]),
    st.text(max_size=8))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(FIELDS), inner, max_size=4)), max_leaves=8)
PARAMS = st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=6)


@pytest.fixture(scope="module")
def charging(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Charging]:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('rpcfuzz')) / 'charging.sqlite'}"
    migrate(url)
    with Store(url, os.urandom(32)) as store:
        built = build_charging(store, ChargingConfig(listen="127.0.0.1:0"), Clock())
        try:
            yield built
        finally:
            built.dispatcher.close()


class Tracebacks(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _call(charging: Charging, method: str, params: Any) -> dict[str, Any]:
    caught = Tracebacks()
    logging.getLogger("sigcore").addHandler(caught)
    try:
        answer = charging.dispatcher.handle_sync({"method": method, "params": [params], "id": 1})
    finally:
        logging.getLogger("sigcore").removeHandler(caught)
    assert not caught.records, (method, params, caught.records[0].getMessage())
    assert answer["error"] != "SERVER_ERROR", (method, params)
    json.dumps(answer, allow_nan=False)
    return answer


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(method_names()), params=PARAMS, account=st.sampled_from([None, "alice", "bob"]))
def test_any_params_get_an_answer_not_a_server_error(charging: Charging, method: str, params: dict[str, Any],
                                                     account: str | None) -> None:
    _call(charging, method, params if account is None else {**params, "Account": account})


@pytest.mark.parametrize(("method", "params", "error"), [
    ("APIerSv1.GetActions", {"ActionIDs": 5}, "UNSUPPORTED_FORMAT:ActionIDs: expected a list of strings"),
    ("APIerSv2.GetCDRs", {"Accounts": [{"a": 1}]}, "UNSUPPORTED_FORMAT:Accounts: expected a list of strings"),
    ("APIerSv2.GetAccounts", {"Offset": "x"}, "UNSUPPORTED_FORMAT:Offset: expected an integer from 0 to"),
    ("APIerSv2.GetCDRs", {"Limit": 2**64}, "UNSUPPORTED_FORMAT:Limit: expected an integer from 0 to"),
    ("APIerSv2.GetCDRs", {"Limit": "²"}, "UNSUPPORTED_FORMAT:Limit: expected an integer from 0 to"),
    ("APIerSv1.AddBalance", {"Account": "nan", "BalanceType": "*monetary", "Value": "NaN"},
     "UNSUPPORTED_FORMAT:NaN"),
    ("APIerSv1.AddBalance", {"Account": "inf", "BalanceType": "*monetary", "Value": float("inf")},
     "UNSUPPORTED_FORMAT:inf"),
])
def test_bad_values_found_by_the_fuzzing_are_named(charging: Charging, method: str, params: dict[str, Any],
                                                   error: str) -> None:
    answer = _call(charging, method, params)
    assert answer["result"] is None and str(answer["error"]).startswith(error), answer


def test_offset_and_limit_still_page(charging: Charging) -> None:
    for name in ("p1", "p2", "p3"):
        assert _call(charging, "APIerSv1.SetAccount", {"Tenant": "paging.org", "Account": name})["error"] is None
    page = _call(charging, "APIerSv2.GetAccounts", {"Tenant": "paging.org", "Offset": "1", "Limit": 1.0})
    assert [a["ID"] for a in page["result"]] == ["paging.org:p2"]
