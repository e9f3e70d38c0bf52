"""Engine rules without the network: exact decimals, expiry, Weight/Blocker order, trigger crossings,
reservations released by session timeout, AllowNegative."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from charging_engine import Clock

from sigcore.charging import ccr, credit
from sigcore.charging import sessions as gy_sessions
from sigcore.charging.ccr import CreditRequest, ServiceRequest, Units
from sigcore.charging.service import Charging, build_charging
from sigcore.charging.times import add_months, parse_expiry
from sigcore.config import ChargingConfig
from sigcore.store import Store, migrate
from support.keys import TEST_KEK

ACC = {"Tenant": "cgrates.org", "Account": "rules"}


@pytest.fixture
def charging(tmp_path: Path, clock: Clock) -> Iterator[Charging]:
    url = f"sqlite:///{tmp_path / 'rules.sqlite'}"
    migrate(url)
    with Store(url, TEST_KEK) as store:
        built = build_charging(store, ChargingConfig(listen="127.0.0.1:0"), clock)
        yield built
        built.dispatcher.close()


def rpc(charging: Charging, method: str, params: Any) -> Any:
    answer = charging.dispatcher.handle_sync({"method": method, "params": [params], "id": 1})
    assert answer["error"] is None, answer
    return answer["result"]


def values(charging: Charging, balance_type: str = "*monetary") -> dict[str, Any]:
    acc = rpc(charging, "APIerSv2.GetAccount", ACC)
    return {b["ID"]: b["Value"] for b in acc["BalanceMap"].get(balance_type, [])}


def test_money_is_exact(charging: Charging) -> None:
    for _ in range(3):
        rpc(charging, "APIerSv1.AddBalance", {**ACC, "BalanceType": "*monetary", "Value": 0.1,
                                              "Balance": {"ID": "b"}})
    acc = charging.engine.store.get_account("cgrates.org", "rules")
    assert acc is not None and acc.balances[0].value == Decimal("0.3")  # 0.1 * 3 in float64 is 0.30000000000000004


def test_expiry_forms_and_month_clamp() -> None:
    now = dt.datetime(2026, 1, 31, 10, 0, tzinfo=dt.UTC)
    assert add_months(now, 1) == dt.datetime(2026, 2, 28, 10, 0, tzinfo=dt.UTC)
    assert parse_expiry("*month", now) == dt.datetime(2026, 2, 28, 10, 0, tzinfo=dt.UTC)
    assert parse_expiry("*month_end", now) == dt.datetime(2026, 1, 31, 23, 59, 59, tzinfo=dt.UTC)
    assert parse_expiry("*month_end+1h", now) == dt.datetime(2026, 2, 1, 0, 59, 59, tzinfo=dt.UTC)
    assert parse_expiry("+720h", now) == now + dt.timedelta(hours=720)
    assert parse_expiry("*unlimited", now) is None and parse_expiry("", now) is None
    assert parse_expiry("2026-03-01T00:00:00Z", now) == dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def test_expired_never_spent_and_weight_then_blocker(charging: Charging, clock: Clock) -> None:
    clock.fixed = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    set_balance = {**ACC, "BalanceType": "*data"}
    rpc(charging, "APIerSv1.SetBalance", {**set_balance, "Value": 100, "Balance": {
        "ID": "old", "Weight": 50, "ExpiryTime": "2026-05-01T12:00:00Z"}})
    rpc(charging, "APIerSv1.SetBalance", {**set_balance, "Value": 30, "Balance": {"ID": "high", "Weight": 20}})
    rpc(charging, "APIerSv1.SetBalance", {**set_balance, "Value": 40, "Balance": {
        "ID": "blocker", "Weight": 10, "Blocker": True}})
    rpc(charging, "APIerSv1.SetBalance", {**set_balance, "Value": 500, "Balance": {"ID": "low", "Weight": 1}})
    clock.fixed = dt.datetime(2026, 5, 2, tzinfo=dt.UTC)  # "old" has expired
    store = charging.engine.store
    with store.locked_account("cgrates.org", "rules", create=False) as (_conn, slot):
        acc = slot.account
        assert acc is not None
        now = clock()
        # the blocker stops the chain before "low": 30 + 40 available, not 570
        assert credit.available(acc, "*data", 1, now) == 70
        taken = credit.debit(acc, "*data", Decimal(100), 1, now)
        assert taken.taken == 70  # no AllowNegative: what no balance holds is not taken
    assert values(charging, "*data") == {"old": 100, "high": 0, "blocker": 0, "low": 500}


def test_min_balance_trigger_fires_once_per_crossing(charging: Charging) -> None:
    rpc(charging, "APIerSv1.SetActions", {"ActionsId": "WARN", "Actions": [
        {"Identifier": "*topup", "BalanceType": "*sms", "BalanceId": "warnings", "Units": 1, "Weight": 10}]})
    rpc(charging, "APIerSv1.SetBalance", {**ACC, "BalanceType": "*monetary", "Value": 10, "Balance": {"ID": "m"}})
    rpc(charging, "APIerSv2.SetAccountActionTriggers", {**ACC, "GroupID": "LOW", "ActionTrigger": {
        "ThresholdType": "*min_balance", "ThresholdValue": 2, "BalanceType": "*monetary", "Recurrent": True,
        "ActionsID": "WARN"}})
    debit = {**ACC, "BalanceType": "*monetary", "Balance": {"ID": "m"}}
    for value in (5, 2, 1, 1):  # 10 -> 5 -> 3 -> 2 (crossing: fires) -> 1 (still below: does not)
        rpc(charging, "APIerSv1.DebitBalance", {**debit, "Value": value})
    assert values(charging, "*sms") == {"warnings": 1}
    rpc(charging, "APIerSv1.AddBalance", {**debit, "Value": 10})  # 11: back above, the recurrent trigger re-arms
    rpc(charging, "APIerSv1.DebitBalance", {**debit, "Value": 10})  # 1: crosses again
    assert values(charging, "*sms") == {"warnings": 2}


def _ccr(sid: str, kind: int, ask: int | None, used: int = 0) -> CreditRequest:
    svc = ServiceRequest(1, Units("*data", Decimal(ask), "CC-Total-Octets") if ask else None,
                         [Units("*data", Decimal(used), "CC-Total-Octets")] if used else [])
    return CreditRequest(sid, kind, "cgrates.org", "rules", "pgw", "localdomain", "pgw", [svc])


def test_reservation_released_by_session_timeout(charging: Charging, clock: Clock) -> None:
    clock.fixed = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    rpc(charging, "APIerSv1.SetBalance", {**ACC, "BalanceType": "*data", "Value": 1000, "Balance": {"ID": "d"}})
    engine = charging.engine
    first = ccr.apply(engine, _ccr("s1", ccr.INITIAL, 1000), session_timeout=60)
    assert first.services[0].granted is not None and first.services[0].granted.amount == 1000
    second = ccr.apply(engine, _ccr("s2", ccr.INITIAL, 10), session_timeout=60)
    assert second.services[0].result_code == ccr.CREDIT_LIMIT_REACHED  # all held by s1
    clock.fixed += dt.timedelta(seconds=61)  # s1 went silent
    with engine.store.store.reading() as conn:
        stale = gy_sessions.expired(conn, clock())
    assert [s.session_id for s in stale] == ["s1", "s2"]
    for session in stale:
        ccr.expire_session(engine, session)
    third = ccr.apply(engine, _ccr("s3", ccr.INITIAL, 10), session_timeout=60)
    assert third.services[0].granted is not None and third.services[0].granted.amount == 10
    assert [c["OriginID"] for c in engine.store.get_cdrs(sources=["*diameter_gy"])] == ["s1", "s2"]


def test_a_ccr_sent_again_is_answered_as_before_and_applied_once(charging: Charging, clock: Clock) -> None:
    """The same (CC-Request-Number, End-to-End id) in a session is the same CCR sent again: its first answer,
    no second debit, in CCR-U, CCR-T and CCR-Event alike; a closed session's row is dropped after the
    duplicate window, and never taken for a silent session (no second CDR, no release)."""
    clock.fixed = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    rpc(charging, "APIerSv1.SetBalance", {**ACC, "BalanceType": "*data", "Value": 1000, "Balance": {"ID": "d"}})
    engine = charging.engine

    def send(req: CreditRequest, number: int, e2e: int) -> ccr.CreditAnswer:
        req.number, req.end_to_end = number, e2e
        return ccr.apply(engine, req, session_timeout=60)

    send(_ccr("s", ccr.INITIAL, 100), 0, 10)
    update = send(_ccr("s", ccr.UPDATE, 100, used=100), 1, 11)
    assert send(_ccr("s", ccr.UPDATE, 100, used=100), 1, 11) == update
    assert values(charging, "*data") == {"d": 900}
    # a client that numbers every CCR alike still gets each applied: the End-to-End ids differ
    send(_ccr("s", ccr.UPDATE, 100, used=100), 1, 12)
    assert values(charging, "*data") == {"d": 800}
    end = send(_ccr("s", ccr.TERMINATION, None, used=50), 2, 13)
    assert send(_ccr("s", ccr.TERMINATION, None, used=50), 2, 13) == end
    event = CreditRequest("e", ccr.EVENT, "cgrates.org", "rules", "smsc", "localdomain", "smsc",
                              [ServiceRequest(1, Units("*data", Decimal(30), "CC-Total-Octets"))])
    first = send(event, 0, 20)
    assert send(event, 0, 20) == first and first.services[0].granted is not None
    assert values(charging, "*data") == {"d": 720}
    assert sorted(c["OriginID"] for c in engine.store.get_cdrs(sources=["*diameter_gy"])) == ["e", "s"]

    clock.fixed += dt.timedelta(seconds=120)  # past session_timeout: a sweep finds no silent session
    with engine.store.store.reading() as conn:
        assert gy_sessions.expired(conn, clock()) == []
    clock.fixed += gy_sessions.DUPLICATE_WINDOW
    with engine.store.writing() as conn:
        assert gy_sessions.drop_closed(conn, clock()) == 2
    assert send(_ccr("s", ccr.TERMINATION, None, used=50), 2, 13) == end  # past the window: applied again
    assert values(charging, "*data") == {"d": 670}


def test_allow_negative_covers_overuse(charging: Charging) -> None:
    rpc(charging, "APIerSv1.SetAccount", {**ACC, "ExtraOptions": {"AllowNegative": True}})
    rpc(charging, "APIerSv1.SetBalance", {**ACC, "BalanceType": "*data", "Value": 100, "Balance": {"ID": "d"}})
    engine = charging.engine
    ccr.apply(engine, _ccr("s", ccr.INITIAL, 100), session_timeout=60)
    ccr.apply(engine, _ccr("s", ccr.TERMINATION, None, used=130), session_timeout=60)  # used more than granted
    assert values(charging, "*data") == {"d": -30}


def test_event_direct_debit_check_balance_and_refund(charging: Charging) -> None:
    rpc(charging, "APIerSv1.SetBalance", {**ACC, "BalanceType": "*sms", "Value": 2, "Balance": {"ID": "sms"}})
    engine = charging.engine

    def event(action: int, units: int = 1) -> int:
        svc = ServiceRequest(3, Units("*sms", Decimal(units), "CC-Service-Specific-Units"))
        req = CreditRequest(f"e{action}{units}", ccr.EVENT, "cgrates.org", "rules", "smsc", "localdomain", "smsc",
                            [svc], action)
        return ccr.apply(engine, req, 60).services[0].result_code

    assert event(ccr.CHECK_BALANCE, 2) == ccr.SUCCESS and values(charging, "*sms") == {"sms": 2}
    # a price enquiry used to be debited like a DIRECT_DEBITING (with no tariffs to quote, it is refused)
    assert event(ccr.PRICE_ENQUIRY, 2) == ccr.RATING_FAILED and values(charging, "*sms") == {"sms": 2}
    assert event(ccr.DIRECT_DEBITING, 2) == ccr.SUCCESS and values(charging, "*sms") == {"sms": 0}
    assert event(ccr.DIRECT_DEBITING) == ccr.CREDIT_LIMIT_REACHED  # all or nothing
    assert event(ccr.REFUND_ACCOUNT, 5) == ccr.SUCCESS and values(charging, "*sms") == {"sms": 5}
    assert len(engine.store.get_cdrs(sources=["*diameter_gy"])) == 5  # one per event


def test_a_balance_check_is_answered_with_its_result_not_refused(charging: Charging) -> None:
    """RFC 4006 §6.3: CHECK_BALANCE gets Check-Balance-Result (ENOUGH_CREDIT / NO_CREDIT), its services
    2001; a check finding too little was a 4012 refusal and no result."""
    rpc(charging, "APIerSv1.SetBalance", {**ACC, "BalanceType": "*sms", "Value": 2, "Balance": {"ID": "sms"}})

    def check(units: int) -> ccr.CreditAnswer:
        svc = ServiceRequest(3, Units("*sms", Decimal(units), "CC-Service-Specific-Units"))
        return ccr.apply(charging.engine, CreditRequest(f"c{units}", ccr.EVENT, "cgrates.org", "rules", "smsc",
                                                        "localdomain", "smsc", [svc], ccr.CHECK_BALANCE), 60)

    enough, short = check(2), check(3)
    assert enough.balance_left is True and [s.result_code for s in enough.services] == [ccr.SUCCESS]
    assert short.balance_left is False and [s.result_code for s in short.services] == [ccr.SUCCESS]
    assert values(charging, "*sms") == {"sms": 2}


def test_max_event_counter_trigger(charging: Charging) -> None:
    rpc(charging, "APIerSv1.SetActions", {"ActionsId": "OFF", "Actions": [
        {"Identifier": "*disable_account", "Weight": 10}]})
    rpc(charging, "APIerSv1.SetBalance", {**ACC, "BalanceType": "*data", "Value": 1000, "Balance": {"ID": "d"}})
    rpc(charging, "APIerSv2.SetAccountActionTriggers", {**ACC, "GroupID": "FRAUD", "ActionTrigger": {
        "ThresholdType": "*max_event_counter", "ThresholdValue": 3, "BalanceType": "*data", "ActionsID": "OFF"}})
    for _ in range(3):
        assert rpc(charging, "APIerSv2.GetAccount", ACC)["Disabled"] is False
        rpc(charging, "APIerSv1.DebitBalance", {**ACC, "BalanceType": "*data", "Value": 1, "Balance": {"ID": "d"}})
    assert rpc(charging, "APIerSv2.GetAccount", ACC)["Disabled"] is True  # the third debit event


def test_final_unit_indication_redirect() -> None:
    from sigcore.charging.ccr import ServiceResult
    from sigcore.charging.gy import GyService
    from sigcore.config import GyConfig

    gy = GyService.__new__(GyService)
    gy.cfg = GyConfig(final_unit_action="REDIRECT", redirect_address="http://topup.example/")
    req = CreditRequest("s", ccr.UPDATE, "t", "a", "h", "r", "p", [])
    group = gy._one_mscc(ServiceResult(5, ccr.SUCCESS, Units("*data", Decimal(10), "CC-Total-Octets"), final=True),
                         req)
    assert group == [("Granted-Service-Unit", [("CC-Total-Octets", 10)]), ("Rating-Group", 5), ("Validity-Time", 300),
                     ("Result-Code", 2001), ("Final-Unit-Indication", [("Final-Unit-Action", 1), ("Redirect-Server", [
                         ("Redirect-Address-Type", 2), ("Redirect-Server-Address", "http://topup.example/")])])]


def test_account_by_subscription_id(charging: Charging) -> None:
    """Mapped ids first, then an account named by the data, then the identity the HSS pairs with it:
    an account named by MSISDN is found from a CCR that carries only the IMSI (and the reverse)."""
    store = charging.engine.store
    hss = store.store
    assert isinstance(hss, Store)
    hss.add_subscriber("001010000000077", ki="00" * 16, opc="11" * 16, msisdn="15550000077")
    for name in ("15550000077", "mapped", "byimsi"):
        rpc(charging, "APIerSv1.SetAccount", {"Account": name})
    tenant = "cgrates.org"
    assert store.resolve([(1, "001010000000077")], tenant) == (tenant, "15550000077")  # via the HSS pair
    assert store.resolve([(0, "15550000077"), (1, "001010000000077")], tenant) == (tenant, "15550000077")
    store.map_subscription(1, "001010000000077", tenant, "mapped")
    assert store.resolve([(0, "15550000077"), (1, "001010000000077")], tenant) == (tenant, "mapped")
    assert store.resolve([(1, "byimsi")], tenant) == (tenant, "byimsi")
    assert store.resolve([(0, "15559999999"), (1, "001019999999999")], tenant) is None
