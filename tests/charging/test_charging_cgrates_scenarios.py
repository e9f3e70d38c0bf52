"""CGrateS's own API integration scenarios (apier/v1/accounts_it_test.go, apier/v2/apierv2_it_test.go),
re-run against sigcore: the same requests give the same results."""

from __future__ import annotations

from typing import Any

import pytest
from charging_engine import Engine


def monetary_total(engine: Engine, account: str, balance_type: str = "*monetary") -> float:
    acc = engine.ok("APIerSv2.GetAccount", {"Tenant": "cgrates.org", "Account": account})
    return sum(b["Value"] for b in acc["BalanceMap"].get(balance_type, []))  # type: ignore[no-any-return]


def test_add_and_debit_balance_arithmetic(engine: Engine) -> None:
    """testAccITAddBalanceWithNegative: Value is made absolute for both AddBalance and DebitBalance."""
    assert engine.ok("APIerSv1.SetAccount", {"Tenant": "cgrates.org", "Account": "AddBalanceWithNegative"}) == "OK"
    args: dict[str, Any] = {"Tenant": "cgrates.org", "Account": "AddBalanceWithNegative",
                            "BalanceType": "*monetary", "Value": -3.5}
    assert engine.ok("APIerSv1.AddBalance", args) == "OK"
    assert monetary_total(engine, "AddBalanceWithNegative") == 3.5
    assert engine.ok("APIerSv1.DebitBalance", {**args, "Value": 2}) == "OK"
    assert monetary_total(engine, "AddBalanceWithNegative") == 1.5
    assert engine.ok("APIerSv1.DebitBalance", {**args, "Value": -1}) == "OK"
    assert monetary_total(engine, "AddBalanceWithNegative") == 0.5


def test_add_balance_without_tenant_creates_the_account_and_logs_cdrs(engine: Engine) -> None:
    """testAccITAddBalance / ...WithoutTenant: the account is created; Cdrlog writes one CDR per call."""
    engine.ok("APIerSv1.AddBalance", {"Tenant": "cgrates.org", "Account": "testAccAddBalance",
                                      "BalanceType": "*monetary", "Value": 1.5, "Cdrlog": True})
    assert len(engine.ok("APIerSv2.GetCDRs", {"Sources": ["*cdrlog"]})) == 1
    engine.ok("APIerSv1.AddBalance", {"Account": "testAccAddBalance", "BalanceType": "*monetary", "Value": 1.5,
                                      "Cdrlog": True})
    assert len(engine.ok("APIerSv2.GetCDRs", {"Sources": ["*cdrlog"]})) == 2
    assert monetary_total(engine, "testAccAddBalance") == 3.0


def test_add_balance_value_zero_and_value_in_map(engine: Engine) -> None:
    base = {"Tenant": "cgrates.org", "Account": "acc", "BalanceType": "*monetary"}
    assert engine.ok("APIerSv1.AddBalance", base) == "OK"
    assert monetary_total(engine, "acc") == 0
    engine.ok("APIerSv1.AddBalance", {**base, "Balance": {"ID": "bonus", "Value": 2}})
    assert monetary_total(engine, "acc") == 2


def test_set_balance_by_id_value_zero_and_value_in_map(engine: Engine) -> None:
    """testAccITSetBalance, ...WithVaslue0, ...WithVaslueInMap."""
    base = {"Tenant": "cgrates.org", "Account": "testAccSetBalance", "BalanceType": "*monetary"}
    assert engine.ok("APIerSv1.SetBalance", {**base, "Value": 1.5, "Balance": {"ID": "testAccSetBalance"},
                                             "Cdrlog": True}) == "OK"
    assert len(engine.ok("APIerSv2.GetCDRs", {"Sources": ["*cdrlog"]})) == 1
    engine.ok("APIerSv1.SetBalance", {**base, "Balance": {"ID": "testAccSetBalance", "Weight": 10}})
    (bal,) = engine.ok("APIerSv2.GetAccount", base)["BalanceMap"]["*monetary"]
    assert (bal["Value"], bal["Weight"]) == (1.5, 10)
    engine.ok("APIerSv1.SetBalance", {**base, "Balance": {"ID": "testAccSetBalance", "Weight": 10, "Value": 2}})
    (bal,) = engine.ok("APIerSv2.GetAccount", base)["BalanceMap"]["*monetary"]
    assert (bal["Value"], bal["Weight"]) == (2, 10)


def test_set_balance_needs_an_id_or_uuid(engine: Engine) -> None:
    answer = engine.call("APIerSv1.SetBalance", {"Account": "x", "BalanceType": "*monetary", "Value": 1})
    assert answer["error"] == "MANDATORY_IE_MISSING: [BalanceID or BalanceUUID]"


def test_set_balance_by_uuid(engine: Engine) -> None:
    """testAccITsetBalanceWithUUid: an unknown UUID is PARTIALLY_EXECUTED; a known one is updated in place."""
    engine.ok("APIerSv1.SetAccount", {"Tenant": "cgrates.org", "Account": "test", "ExtraOptions": {"Disabled": True}})
    base = {"Tenant": "cgrates.org", "Account": "test", "BalanceType": "*sms"}
    answer = engine.call("APIerSv1.SetBalance", {**base, "Value": 1,
                                                 "Balance": {"UUID": "37b54e1a-e1e6-4df6-a9a5-d97b4552f2f6"}})
    assert answer == {"id": 1, "result": None, "error": "PARTIALLY_EXECUTED"}
    engine.ok("APIerSv1.SetBalance", {**base, "Value": 1, "Balance": {"Weight": 20, "ID": "balance1"}})
    sms = engine.ok("APIerSv2.GetAccount", base)["BalanceMap"]["*sms"]
    assert sms[0]["Weight"] == 20
    engine.ok("APIerSv1.SetBalance", {**base, "Value": 4, "Balance": {"UUID": sms[0]["Uuid"]}})
    sms = engine.ok("APIerSv2.GetAccount", base)["BalanceMap"]["*sms"]
    assert len(sms) == 1 and sms[0]["Value"] == 4


def test_set_actions_and_action_plan_exist_on_repeat(engine: Engine) -> None:
    actions = {"ActionsId": "ACTS_1", "Actions": [{"Identifier": "*topup_reset", "BalanceType": "*monetary",
                                                   "Units": 75.0, "ExpiryTime": "*unlimited", "Weight": 20.0}]}
    assert engine.ok("APIerSv1.SetActions", actions) == "OK"
    assert engine.call("APIerSv1.SetActions", actions)["error"] == "EXISTS"
    assert engine.ok("APIerSv1.SetActions", {**actions, "Overwrite": True}) == "OK"
    got = engine.ok("APIerSv1.GetActions", "ACTS_1")
    assert [(a["Identifier"], a["BalanceType"], a["Units"], a["Weight"]) for a in got] == [
        ("*topup_reset", "*monetary", "75.0", 20.0)]
    assert engine.call("APIerSv1.GetActions", "nope")["error"] == "SERVER_ERROR: NOT_FOUND"
    plan = {"Id": "ATMS_1", "ActionPlan": [{"ActionsId": "ACTS_1", "MonthDays": "1", "Time": "00:00:00",
                                            "Weight": 20.0}]}
    assert engine.ok("APIerSv1.SetActionPlan", plan) == "OK"
    assert engine.call("APIerSv1.SetActionPlan", plan)["error"] == "EXISTS"
    assert engine.call("APIerSv1.SetActionPlan", {**plan, "Id": "ATMS_2", "ActionPlan": [
        {"ActionsId": "NO_SUCH", "Time": "*asap"}]})["error"] == "BROKEN_REFERENCE:NO_SUCH"
    assert engine.call("APIerSv1.SetActionPlan", {**plan, "Id": "ATMS_3", "ActionPlan": [
        {"ActionsId": "ACTS_1", "Time": "whenever"}]})["error"] == "UNSUPPORTED_FORMAT:whenever"
    (got_plan,) = engine.ok("APIerSv1.GetActionPlan", {"ID": "ATMS_1"})
    assert got_plan["Id"] == "ATMS_1" and got_plan["ActionTimings"][0]["ActionsID"] == "ACTS_1"


def test_max_balance_trigger_disables_the_account(engine: Engine) -> None:
    """testAPIerSv2itAddBalance, ...SetAction, ...SetAccountActionTriggers, ...FraudMitigation."""
    dan = {"Tenant": "cgrates.org", "Account": "dan"}
    engine.ok("APIerSv2.SetBalance", {**dan, "BalanceType": "*monetary", "Value": 5.0,
                                      "Balance": {"ID": "*default", "Weight": 10.0}})
    assert engine.ok("APIerSv2.GetAccount", dan)["BalanceMap"]["*monetary"][0]["Value"] == 5
    engine.ok("APIerSv2.SetActions", {"ActionsId": "DISABLE_ACCOUNT", "Actions": [
        {"Identifier": "*disable_account", "Weight": 10.0}]})
    assert len(engine.ok("APIerSv2.GetActions", {"ActionIDs": ["DISABLE_ACCOUNT"]})) == 1
    trigger: dict[str, Any] = {**dan, "GroupID": "MONITOR_MAX_BALANCE", "ActionTrigger": {
        "ThresholdType": "*max_balance", "ThresholdValue": 50, "BalanceType": "*monetary",
        "ActionsID": "DISABLE_ACCOUNT"}}
    engine.ok("APIerSv2.SetAccountActionTriggers", trigger)
    (got,) = engine.ok("APIerSv2.GetAccountActionTriggers", dan)
    assert (got["ID"], got["ThresholdValue"]) == ("MONITOR_MAX_BALANCE", 50)
    trigger["ActionTrigger"]["ThresholdValue"] = 55
    engine.ok("APIerSv2.SetAccountActionTriggers", trigger)
    (got,) = engine.ok("APIerSv2.GetAccountActionTriggers", dan)
    assert (got["ID"], got["ThresholdValue"]) == ("MONITOR_MAX_BALANCE", 55)

    engine.ok("APIerSv2.SetBalance", {**dan, "BalanceType": "*monetary", "Value": 60.0,
                                      "Balance": {"ID": "*default", "Weight": 10.0}})
    acc = engine.ok("APIerSv2.GetAccount", dan)
    assert len(acc["BalanceMap"]) == 1 and acc["BalanceMap"]["*monetary"][0]["Value"] == 60
    assert acc["Disabled"] is True
    engine.ok("APIerSv2.SetAccount", {**dan, "ExtraOptions": {"Disabled": False}})
    acc = engine.ok("APIerSv2.GetAccount", dan)
    assert acc["BalanceMap"]["*monetary"][0]["Value"] == 60 and acc["Disabled"] is False


def test_errors_unknown_keys_aliases_and_missing_id(engine: Engine) -> None:
    assert engine.call("APIerSv2.GetAccount", {"Account": "ghost"})["error"] == "NOT_FOUND"
    assert engine.call("APIerSv1.GetAccount", {"Tenant": "cgrates.org"})["error"] == "MANDATORY_IE_MISSING: [Account]"
    assert engine.ok("ApierV1.SetAccount", {"Account": "a1", "NoSuchKey": {"x": 1}}) == "OK"
    for prefix in ("APIerSv1", "APIerSv2", "ApierV1", "ApierV2"):
        assert engine.call(f"{prefix}.GetAccount", {"Account": "a1"})["error"] is None
    v1 = engine.ok("APIerSv1.GetAccount", {"Account": "a1"})
    assert v1["Id"] == "*out:cgrates.org:a1"
    assert engine.call("APIerSv1.NoSuchMethod", {})["error"] == "rpc: can't find method APIerSv1.NoSuchMethod"
    assert engine.call("Nope.Method", {})["error"] == "rpc: can't find service Nope.Method"
    status, answer = engine.post({"method": "CoreSv1.Status", "params": [{}]})
    assert status == 200 and answer["id"] is None and answer["result"]["version"].startswith("sigcore")
    status, answer = engine.post({"method": "APIerSv1.GetAccount", "id": 7})
    assert answer == {"id": 7, "result": None, "error": "jsonrpc: request body missing params"}


def test_raw_tcp_json_rpc(engine: Engine) -> None:
    import json
    import socket

    with socket.create_connection(("127.0.0.1", engine.charging.ports["tcp"]), timeout=5) as sock:
        sock.sendall(json.dumps({"method": "APIerSv1.SetAccount", "params": [{"Account": "tcp1"}], "id": 1}).encode()
                     + json.dumps({"method": "APIerSv2.GetAccount", "params": [{"Account": "tcp1"}], "id": 2}).encode())
        stream = sock.makefile("r")
        first, second = json.loads(stream.readline()), json.loads(stream.readline())
    assert first == {"id": 1, "result": "OK", "error": None}
    assert second["id"] == 2 and second["result"]["ID"] == "cgrates.org:tcp1"


def test_bad_input_gets_an_answer(engine: Engine) -> None:
    import http.client
    import json
    import socket

    conn = http.client.HTTPConnection("127.0.0.1", engine.charging.ports["http"], timeout=5)
    conn.request("POST", "/jsonrpc", b"{not json", {"Content-Type": "application/json"})
    reply = conn.getresponse()
    assert reply.status == 200 and json.loads(reply.read())["error"].startswith("jsonrpc: cannot decode")
    conn.request("GET", "/jsonrpc")
    reply = conn.getresponse()
    assert reply.status == 405 and "POST" in json.loads(reply.read())["error"]
    conn.request("POST", "/elsewhere", b"{}")
    reply = conn.getresponse()
    assert reply.status == 404 and json.loads(reply.read())["error"].startswith("no such path")
    conn.request("POST", "/jsonrpc", json.dumps({"method": "APIerSv1.AddBalance", "id": 9, "params": [
        {"Account": "x", "BalanceType": "*monetary", "Value": "lots"}]}).encode())
    assert json.loads(conn.getresponse().read()) == {"id": 9, "result": None, "error": "UNSUPPORTED_FORMAT:lots"}
    conn.request("POST", "/jsonrpc", json.dumps({"method": "APIerSv1.SetActions", "id": 10, "params": [
        {"ActionsId": "A", "Actions": [{"Weight": 10}]}]}).encode())
    assert json.loads(conn.getresponse().read())["error"] == "MANDATORY_IE_MISSING:Action::[Identifier]"
    conn.close()
    with socket.create_connection(("127.0.0.1", engine.charging.ports["tcp"]), timeout=5) as sock:
        sock.sendall(b"GARBAGE\n")
        answer = json.loads(sock.makefile("r").readline())
        assert answer["error"] == "jsonrpc: request is not a JSON object"
        assert sock.recv(10) == b""  # and the connection is closed


def test_raw_tcp_keeps_a_character_that_two_reads_split(engine: Engine) -> None:
    """The raw TCP reader decoded each read on its own: an "ë" cut between two reads became two U+FFFD."""
    import json
    import socket
    import time

    request = json.dumps({"method": "APIerSv1.SetAccount", "params": [{"Account": "zoë"}], "id": 1},
                         ensure_ascii=False).encode()
    cut = request.index("ë".encode()) + 1  # between the character's two bytes
    with socket.create_connection(("127.0.0.1", engine.charging.ports["tcp"]), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(request[:cut])
        time.sleep(0.3)  # the server reads the first part alone
        sock.sendall(request[cut:])
        assert json.loads(sock.makefile("r").readline()) == {"id": 1, "result": "OK", "error": None}
    assert engine.ok("APIerSv2.GetAccount", {"Account": "zoë"})["ID"] == "cgrates.org:zoë"


def test_raw_tcp_answers_an_oversized_request_before_closing(engine: Engine) -> None:
    import json
    import socket

    from sigcore.charging.jsonrpc import MAX_BODY

    with socket.create_connection(("127.0.0.1", engine.charging.ports["tcp"]), timeout=10) as sock:
        try:
            sock.sendall(b'{"method": "APIerSv1.Ping", "params": [{"x": "' + b"a" * (MAX_BODY + 1))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may hang up while we still send; its answer is already on the way
        answer = json.loads(sock.makefile("r").readline())
    assert answer == {"id": None, "result": None, "error": f"jsonrpc: request larger than {MAX_BODY} characters"}


def test_http_closes_a_connection_that_never_completes_its_request(engine: Engine,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A stalled client (half a head, or a head and part of its body) is let go instead of holding a socket
    for ever: before, `readuntil`/`readexactly` waited without end."""
    import socket
    import time

    from sigcore.charging import jsonrpc

    monkeypatch.setattr(jsonrpc, "HEAD_TIMEOUT", 0.5, raising=False)
    monkeypatch.setattr(jsonrpc, "BODY_TIMEOUT", 0.5, raising=False)
    port = engine.charging.ports["http"]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as half_head:
        half_head.sendall(b"POST /jsonrpc HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        assert half_head.recv(100) == b""  # closed
        assert time.monotonic() - started < 4
    with socket.create_connection(("127.0.0.1", port), timeout=5) as half_body:
        half_body.sendall(b"POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        reply = half_body.makefile("rb").read()
        assert reply.startswith(b"HTTP/1.1 408 Request Timeout") and b"did not arrive within 0.5 s" in reply
    status, answer = engine.post({"method": "CoreSv1.Ping", "params": [{}], "id": 1})  # others still served
    assert (status, answer["result"]) == (200, "Pong")


@pytest.mark.parametrize("depth", [995, 100_000])
def test_deeply_nested_json_gets_an_answer(engine: Engine, depth: int) -> None:
    """JSON nested past the interpreter's recursion limit raised RecursionError, which neither transport
    caught: the connection closed without an answer and the log got "Task exception was never retrieved".
    Nested just under it, the decode worked and the answer's encoding (the id is echoed) raised instead."""
    import http.client
    import json
    import socket

    nested = "[" * depth + "]" * depth
    request = f'{{"method": "APIerSv2.GetAccount", "params": [{{"Account": "a"}}], "id": {nested}}}'.encode()
    conn = http.client.HTTPConnection("127.0.0.1", engine.charging.ports["http"], timeout=10)
    conn.request("POST", "/jsonrpc", request, {"Content-Type": "application/json"})
    reply = conn.getresponse()
    answer = json.loads(reply.read())
    assert reply.status == 200 and answer["result"] is None and "nested too deeply" in answer["error"], answer
    conn.close()
    with socket.create_connection(("127.0.0.1", engine.charging.ports["tcp"]), timeout=10) as sock:
        sock.sendall(request)
        answer = json.loads(sock.makefile("r").readline())
    assert answer["result"] is None and "nested too deeply" in answer["error"], answer


def test_cdrlog_extra_parameters_nested_too_deeply_are_ignored(engine: Engine) -> None:
    """A *cdrlog template that is not a JSON object is ignored with a warning; one nested past the recursion
    limit raised RecursionError instead: the action failed with SERVER_ERROR and a traceback."""
    deep = "[" * 100_000 + "]" * 100_000
    account = {"Tenant": "cgrates.org", "Account": "deep"}
    engine.ok("APIerSv1.SetAccount", account)
    engine.ok("APIerSv1.SetActions", {"ActionsId": "DEEP", "Actions": [
        {"Identifier": "*topup", "BalanceType": "*monetary", "Units": 1, "Weight": 20},
        {"Identifier": "*cdrlog", "ExtraParameters": deep, "Weight": 10}]})
    assert engine.ok("APIerSv1.ExecuteAction", {**account, "ActionsId": "DEEP"}) == "OK"
    assert monetary_total(engine, "deep") == 1
    assert len(engine.ok("APIerSv2.GetCDRs", {"Sources": ["*cdrlog"]})) == 1


def test_an_account_document_past_64_kib_is_kept(engine: Engine) -> None:
    """Documents are JSON text; on MariaDB a TEXT column holds 64 KiB, and an account with a few hundred
    balances did not fit: SetBalance failed with SERVER_ERROR ("Data too long") there alone."""
    account = {"Tenant": "cgrates.org", "Account": "many"}
    for n in range(300):
        engine.ok("APIerSv1.SetBalance", {**account, "BalanceType": "*monetary", "Value": 1,
                                          "Balance": {"ID": f"bonus-{n:04d}-" + "x" * 200}})
    balances = engine.ok("APIerSv2.GetAccount", account)["BalanceMap"]["*monetary"]
    assert len(balances) == 300 and monetary_total(engine, "many") == 300


@pytest.mark.parametrize(("method", "params", "error"), [
    ("APIerSv1.SetAccount", {"Account": "a" * 129}, "Account"),
    ("APIerSv1.SetAccount", {"Tenant": "t" * 129, "Account": "a"}, "Tenant"),
    ("APIerSv1.AddBalance", {"Account": "a" * 129, "BalanceType": "*monetary", "Value": 1}, "Account"),
    ("APIerSv1.SetActions", {"ActionsId": "A" * 129, "Actions": [{"Identifier": "*log", "Weight": 1}]}, "ActionsId"),
])
def test_a_name_longer_than_its_column_is_refused_alike_everywhere(engine: Engine, method: str,
                                                                   params: dict[str, Any], error: str) -> None:
    """SQLite kept a 200-character account name; PostgreSQL and MariaDB answered SERVER_ERROR (the row did
    not fit its column) with a traceback in the log."""
    answer = engine.call(method, params)
    assert answer["error"] == f"UNSUPPORTED_FORMAT:{error} longer than 128 characters", answer
    assert engine.call(method, {**params, error: error[0] * 128})["error"] is None
