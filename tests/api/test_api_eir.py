"""EIR rules (CRUD) and check history (read-only) over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from apiserver import LiveApi

from sigcore.hss.s13.eir import Eir
from sigcore.store.eir import EirRepository, EquipmentStatus
from sigcore.store.tokens import Role, TokenRepository

V1 = "/api/v1/eir"
IMEI15 = "490154203237518"  # a valid check digit (TS 23.003 Annex B)
IMEI = IMEI15[:14]
TAC = IMEI[:8]
IMSI = "001010000000001"


def add(api: LiveApi, **body: Any) -> dict[str, Any]:
    with api.client(Role.PROVISION) as http:
        response = http.post(f"{V1}/rules", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_rules_crud(api: LiveApi) -> None:
    exact = add(api, imei=IMEI15, status="blacklisted", comment="stolen")
    prefix = add(api, prefix=TAC, status="greylisted")
    bound = add(api, imei=IMEI, imsi=IMSI, status="whitelisted")
    assert exact["kind"] == "imei" and exact["pattern"] == IMEI and exact["comment"] == "stolen"
    assert exact["created_at"] and prefix["kind"] == "prefix" and bound["imsi"] == IMSI
    with api.client(Role.READ) as http:
        everything = http.get(f"{V1}/rules").json()
        grey = http.get(f"{V1}/rules", params={"status": "greylisted"}).json()
        prefixes = http.get(f"{V1}/rules", params={"kind": "prefix"}).json()
        of_imsi = http.get(f"{V1}/rules", params={"imsi": IMSI}).json()
        second = http.get(f"{V1}/rules", params={"offset": 1, "limit": 1, "pattern_prefix": TAC}).json()
        assert http.get(f"{V1}/rules/{exact['id']}").json() == exact
    assert everything["total"] == 3 and everything["items"][0]["id"] == prefix["id"]  # by pattern
    assert [r["id"] for r in grey["items"]] == [prefix["id"]] and prefixes["total"] == 1
    assert [r["id"] for r in of_imsi["items"]] == [bound["id"]]
    assert second["total"] == 3 and len(second["items"]) == 1
    with api.client(Role.PROVISION) as http:
        changed = http.patch(f"{V1}/rules/{exact['id']}", json={"status": "greylisted", "comment": None}).json()
        kept = http.patch(f"{V1}/rules/{exact['id']}", json={}).json()
        assert http.delete(f"{V1}/rules/{exact['id']}").status_code == 204
        assert http.get(f"{V1}/rules/{exact['id']}").status_code == 404
        assert http.patch(f"{V1}/rules/{exact['id']}", json={"status": "blacklisted"}).status_code == 404
        assert http.delete(f"{V1}/rules/{exact['id']}").status_code == 404
    assert (changed["status"], changed["comment"], changed["id"]) == ("greylisted", None, exact["id"])
    assert kept == changed


def test_a_patched_rule_decides_the_next_check(api: LiveApi) -> None:
    rule = add(api, prefix=TAC, status="blacklisted")
    eir = Eir(EirRepository(api.store))
    assert eir.check(IMEI, imsi=None).status == EquipmentStatus.BLACKLISTED
    with api.client(Role.PROVISION) as http:
        http.patch(f"{V1}/rules/{rule['id']}", json={"status": "whitelisted"})
    assert eir.check(IMEI, imsi=None).status == EquipmentStatus.WHITELISTED


def test_the_same_rule_twice_is_409(api: LiveApi) -> None:
    add(api, prefix=TAC, status="blacklisted")
    add(api, prefix=TAC, imsi=IMSI, status="whitelisted")  # a different binding is a different rule
    with api.client(Role.PROVISION) as http:
        response = http.post(f"{V1}/rules", json={"prefix": TAC, "status": "greylisted"})
    assert response.status_code == 409 and TAC in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"status": "blacklisted"}, "body", "exactly one of imei and prefix"),
        ({"status": "blacklisted", "imei": IMEI, "prefix": TAC}, "body", "exactly one of imei and prefix"),
        ({"status": "blacklisted", "imei": IMEI15[:-1] + "9"}, "imei", "check digit"),
        ({"status": "blacklisted", "imei": "12345"}, "imei", "pattern"),
        ({"status": "blacklisted", "prefix": "0" * 15}, "prefix", "pattern"),
        ({"status": "black", "prefix": TAC}, "status", "whitelisted"),
        ({"status": "blacklisted", "prefix": TAC, "imsi": "12"}, "imsi", "pattern"),
        ({"status": "blacklisted", "prefix": TAC, "comment": "x" * 256}, "comment", "at most 255"),
        ({"status": "blacklisted", "prefix": TAC, "colour": "red"}, "colour", "Extra inputs"),
    ],
)
def test_invalid_rule_is_422_naming_the_field(api: LiveApi, body: dict[str, Any], field: str, reason: str) -> None:
    with api.client(Role.PROVISION) as http:
        response = http.post(f"{V1}/rules", json=body)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert any(field in map(str, e["loc"]) and reason in e["msg"] for e in errors), errors


def test_history_is_read_only_newest_first_and_filtered(api: LiveApi) -> None:
    rule = add(api, imei=IMEI, status="blacklisted")
    repo = EirRepository(api.store)
    repo.record_check(IMEI, software_version="01", imsi=IMSI, status=EquipmentStatus.BLACKLISTED,
                      rule_id=rule["id"], origin_host="mme.example.org")
    repo.record_check("35000000000000", software_version=None, imsi=None, status=None, rule_id=None,
                      origin_host="mme.example.org")
    with api.client(Role.READ) as http:
        everything = http.get(f"{V1}/history").json()
        mine = http.get(f"{V1}/history", params={"imei": IMEI15}).json()  # check digit accepted and dropped
        page = http.get(f"{V1}/history", params={"limit": 1, "offset": 1}).json()
        bad = http.get(f"{V1}/history", params={"imei": IMEI15[:-1] + "9"})
    with api.client(Role.ADMIN) as http:
        assert http.post(f"{V1}/history", json={}).status_code == 405
    assert everything["total"] == 2 and everything["items"][0]["imei"] == "35000000000000"
    assert everything["items"][0]["status"] is None and everything["items"][1]["status"] == "blacklisted"
    assert mine["total"] == 1 and mine["items"][0] | {"id": 0, "checked_at": None} == {
        "id": 0, "checked_at": None, "imei": IMEI, "software_version": "01", "imsi": IMSI,
        "status": "blacklisted", "rule_id": rule["id"], "origin_host": "mme.example.org"}
    assert page["total"] == 2 and page["items"][0]["imei"] == IMEI
    assert bad.status_code == 422 and "check digit" in bad.json()["detail"][0]["msg"]


def test_every_eir_endpoint_needs_a_token_and_writes_need_provision(api: LiveApi) -> None:
    writes = [("POST", f"{V1}/rules", {"prefix": TAC, "status": "blacklisted"}),
              ("PATCH", f"{V1}/rules/1", {"status": "whitelisted"}), ("DELETE", f"{V1}/rules/1", None)]
    with api.client(None) as anonymous, api.client(Role.READ) as reader:
        for method, url, body in writes:
            assert anonymous.request(method, url, json=body).status_code == 401, url
            denied = reader.request(method, url, json=body)
            assert denied.status_code == 403 and "provision" in denied.json()["detail"], url
        for url in (f"{V1}/rules", f"{V1}/rules/1", f"{V1}/history"):
            assert anonymous.get(url).status_code == 401, url
            assert reader.get(url).status_code in (200, 404), url


def test_eir_writes_are_audited(api: LiveApi) -> None:
    rule = add(api, prefix=TAC, status="blacklisted", comment="batch 7")
    with api.client(Role.PROVISION) as http:
        http.patch(f"{V1}/rules/{rule['id']}", json={"status": "whitelisted"})
        http.delete(f"{V1}/rules/{rule['id']}")
    entries = TokenRepository(api.store).audit_entries(0, 10, None, None)[0]
    assert [(e.action, e.status) for e in entries] == [("DELETE", 204), ("PATCH", 200), ("POST", 201)]
    assert entries[2].detail == f"prefix {TAC}; fields: comment, prefix, status"
    assert entries[1].detail == f"rule #{rule['id']}; fields: status"
