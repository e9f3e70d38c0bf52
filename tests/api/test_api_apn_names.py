"""APN names over real HTTP: any case names the existing profile (TS 23.003 §9.1); a new name outside the
APN label rules is 422 naming it. The CLI's side: test_api_cli.py."""

from __future__ import annotations

import pytest
from apiserver import KI, OPC, LiveApi

from sigcore.store.tokens import Role

EMOJI = "\N{GRINNING FACE}"
NEW = {"imsi": "001010000000001", "ki": KI, "opc": OPC}


def test_a_subscriber_given_the_apn_in_another_case_gets_the_existing_profile(api: LiveApi) -> None:
    with api.client(Role.PROVISION) as http:
        assert http.post("/api/v1/apns", json={"name": "internet", "qci": 7}).status_code == 201
        created = http.post("/api/v1/subscribers", json={**NEW, "apns": ["Internet"], "default_apn": "INTERNET"})
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["created_apns"] == [] and [a["name"] for a in body["apns"]] == ["internet"]
        assert body["default_apn"] == "internet"
        again = http.post("/api/v1/apns", json={"name": "Internet"})
        assert again.status_code == 409 and "'internet' already exists" in again.json()["detail"]
        patched = http.patch("/api/v1/apns/INTERNET", json={"qci": 8})
        assert patched.status_code == 200 and patched.json()["name"] == "internet"
        assert http.get("/api/v1/apns/Internet").json()["qci"] == 8
        assert [p["name"] for p in http.get("/api/v1/apns", params={"name_prefix": "INTER"}).json()["items"]] == [
            "internet"]
        held = http.get("/api/v1/subscribers", params={"apn": "INTERNET"}).json()
        assert [s["imsi"] for s in held["items"]] == [NEW["imsi"]] and held["total"] == 1
        twice = http.post("/api/v1/subscribers", json={**NEW, "imsi": "001010000000002", "apns": ["ims", "IMS"]})
        assert twice.status_code == 422 and "listed twice ('ims' and 'IMS')" in twice.text
        assert [p["name"] for p in http.get("/api/v1/apns").json()["items"]] == ["internet"]


@pytest.mark.parametrize("name", [EMOJI, "inter_net", "a..b", "x" * 64])
def test_a_new_name_outside_the_label_rules_is_422_naming_it(api: LiveApi, name: str) -> None:
    with api.client(Role.PROVISION) as http:
        for answer in (http.post("/api/v1/apns", json={"name": name}),
                       http.post("/api/v1/subscribers", json={**NEW, "apns": [name]})):
            assert answer.status_code == 422, answer.text
            [error] = answer.json()["detail"]
            assert error["loc"] == ["body", "apn"] and error["msg"].startswith(f"{name!r} is not an APN name")
        assert http.get(f"/api/v1/subscribers/{NEW['imsi']}").status_code == 404
        assert http.get("/api/v1/apns").json()["items"] == []


def test_csv_import_attaches_case_variants_to_one_profile_and_rejects_a_bad_name(api: LiveApi) -> None:
    csv = (f"imsi,ki,opc,apns\n001010000000501,{KI},{OPC},Internet\n001010000000502,{KI},{OPC},internet\n"
           f"001010000000503,{KI},{OPC},{EMOJI}\n001010000000504,{KI},{OPC},ims|IMS\n")
    with api.client(Role.PROVISION) as http:
        answer = http.post("/api/v1/subscribers/import", content=csv.encode(), headers={"content-type": "text/csv"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["imported"], body["created_apns"]) == (2, ["Internet"])
        assert [(r["line"], r["reason"].split(" (")[0]) for r in body["rejected"]] == [
            (4, f"apn: {EMOJI!r} is not an APN name"), (5, "apns: an APN is listed twice")]
        assert [p["name"] for p in http.get("/api/v1/apns").json()["items"]] == ["Internet"]
