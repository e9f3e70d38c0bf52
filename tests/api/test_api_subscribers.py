"""Subscribers, authentication data and serving state over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from apiserver import KI, OP, OPC, LiveApi, RecordingHss

from sigcore.applications import Services
from sigcore.hss.auc import join_sqn
from sigcore.store.tokens import Role
from support.usim_model import UsimModel

IMSI = "001010000000001"
NEW = {"imsi": IMSI, "msisdn": "15550001", "ki": KI, "opc": OPC, "amf": "8000", "sqn": 32, "apns": ["internet"]}


@pytest.fixture
def hss(services: Services) -> RecordingHss:
    services.notifier = recorder = RecordingHss()
    return recorder


def create(api: LiveApi, **changes: Any) -> dict[str, Any]:
    with api.client(Role.PROVISION) as http:
        response = http.post("/api/v1/subscribers", json={**NEW, **changes})
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_create_read_by_imsi_and_msisdn(api: LiveApi) -> None:
    created = create(api)
    assert created["imsi"] == IMSI and created["msisdn"] == "15550001"
    assert created["created_apns"] == ["internet"]  # unknown APN names get the default profile
    assert [a["name"] for a in created["apns"]] == ["internet"] and created["default_apn"] == "internet"
    assert not {"ki", "opc", "op"} & set(created)
    with api.client(Role.READ) as http:
        assert http.get(f"/api/v1/subscribers/{IMSI}").json()["msisdn"] == "15550001"
        assert http.get("/api/v1/subscribers/by-msisdn/15550001").json()["imsi"] == IMSI
        assert http.get("/api/v1/subscribers/by-msisdn/999").status_code == 404
        assert http.get("/api/v1/subscribers/001019999999999").status_code == 404
        profile = http.get("/api/v1/apns/internet").json()
    assert (profile["qci"], profile["arp_priority"]) == (9, 8)


def test_create_with_op_and_static_addresses(api: LiveApi) -> None:
    created = create(api, opc=None, op=OP, apns=[{"name": "ims", "static_ipv4": "10.1.2.3"}, "internet"])
    assert created["apns"][0] == {"name": "ims", "context_id": 1, "static_ipv4": "10.1.2.3", "static_ipv6": None}
    with api.client(Role.READ) as http:
        assert http.get(f"/api/v1/subscribers/{IMSI}/auth").json()["key_type"] == "op"


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"imsi": "12ab"}, "imsi", "pattern"),
        ({"ki": "00" * 15}, "ki", "pattern"),
        ({"ki": "zz" * 16}, "ki", "pattern"),
        ({"opc": None}, "opc", "exactly one of opc and op"),
        ({"op": OP}, "opc", "exactly one of opc and op"),
        ({"amf": "80000"}, "amf", "pattern"),
        ({"sqn": -1}, "sqn", "greater than or equal"),
        ({"sqn": 1 << 48}, "sqn", "less than or equal"),
        ({"apns": ["a b"]}, "apns", "pattern"),
        ({"apns": ["x", "x"]}, "apns", "listed twice"),
        ({"nam": "circuit"}, "nam", "packet_and_circuit"),
        ({"colour": "blue"}, "colour", "Extra inputs"),
        ({"apns": [{"name": "x", "static_ipv4": "::1"}]}, "static_ipv4", "IPv4"),
    ],
)
def test_invalid_create_is_422_naming_the_field(api: LiveApi, changes: dict[str, Any], field: str,
                                                 reason: str) -> None:
    with api.client(Role.PROVISION) as http:
        response = http.post("/api/v1/subscribers", json={**NEW, **changes})
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert any(field in map(str, e["loc"]) and reason in e["msg"] for e in errors), errors


def test_malformed_json_is_422(api: LiveApi) -> None:
    with api.client(Role.PROVISION) as http:
        response = http.post("/api/v1/subscribers", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_conflicts_are_409(api: LiveApi) -> None:
    create(api)
    with api.client(Role.PROVISION) as http:
        again = http.post("/api/v1/subscribers", json=NEW)
        same_msisdn = http.post("/api/v1/subscribers", json={**NEW, "imsi": "001010000000002"})
        create_second = http.post("/api/v1/subscribers", json={**NEW, "imsi": "001010000000002", "msisdn": "2"})
        patch_msisdn = http.patch("/api/v1/subscribers/001010000000002", json={"msisdn": "15550001"})
    assert again.status_code == 409 and IMSI in again.json()["detail"]
    assert same_msisdn.status_code == 409
    assert create_second.status_code == 201
    assert patch_msisdn.status_code == 409 and "15550001" in patch_msisdn.json()["detail"]


def test_list_pages_and_filters(api: LiveApi) -> None:
    for n in range(7):
        create(api, imsi=f"00101000000001{n}", msisdn=f"1555100{n}", apns=["internet"] if n % 2 else ["ims"])
    create(api, imsi="001020000000001", msisdn="4477", apns=[])
    with api.client(Role.READ) as http:
        first = http.get("/api/v1/subscribers", params={"limit": 3}).json()
        second = http.get("/api/v1/subscribers", params={"limit": 3, "offset": 3}).json()
        by_prefix = http.get("/api/v1/subscribers", params={"imsi_prefix": "00102"}).json()
        by_msisdn = http.get("/api/v1/subscribers", params={"msisdn_prefix": "15551"}).json()
        by_apn = http.get("/api/v1/subscribers", params={"apn": "ims"}).json()
        bad_limit = http.get("/api/v1/subscribers", params={"limit": 0})
    assert first["total"] == 8 and len(first["items"]) == 3 and first["limit"] == 3
    imsis = [s["imsi"] for s in first["items"] + second["items"]]
    assert imsis == sorted(imsis) and len(set(imsis)) == 6
    assert [s["imsi"] for s in by_prefix["items"]] == ["001020000000001"]
    assert by_msisdn["total"] == 7
    assert by_apn["total"] == 4
    assert bad_limit.status_code == 422


def test_patch_updates_and_notifies_the_serving_mme(api: LiveApi, hss: RecordingHss) -> None:
    create(api)
    api.store.update_serving_mme(IMSI, "mme1.localdomain", "localdomain", "mme1.localdomain")
    with api.client(Role.PROVISION) as http:
        changed = http.patch(f"/api/v1/subscribers/{IMSI}", json={"ue_ambr_dl": 5_000_000, "apns": ["internet", "ims"],
                                                                  "tau_timer": 600, "msisdn": None})
        unchanged = http.patch(f"/api/v1/subscribers/{IMSI}", json={"enabled": None})
        disabled = http.patch(f"/api/v1/subscribers/{IMSI}", json={"enabled": False})
        unknown = http.patch("/api/v1/subscribers/001019999999999", json={"odb": 1})
        bad = http.patch(f"/api/v1/subscribers/{IMSI}", json={"default_apn": "nope"})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["ue_ambr_dl"] == 5_000_000 and body["tau_timer"] == 600 and body["msisdn"] is None
    assert [a["name"] for a in body["apns"]] == ["internet", "ims"]
    assert unchanged.status_code == 200 and unchanged.json()["enabled"] is True
    assert disabled.json()["enabled"] is False
    assert unknown.status_code == 404
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "default_apn"]
    assert hss.wait_for(2) == [("idr", IMSI), ("clr", IMSI)]  # nothing for the no-op patch


def test_no_notification_without_a_serving_mme(api: LiveApi, hss: RecordingHss) -> None:
    create(api)
    create(api, imsi="001010000000002", msisdn=None)
    api.store.update_serving_mme("001010000000002", "mme1.localdomain", "localdomain", None)
    with api.client(Role.PROVISION) as http:
        assert http.patch(f"/api/v1/subscribers/{IMSI}", json={"odb": 3}).status_code == 200
        assert http.patch("/api/v1/subscribers/001010000000002", json={"odb": 3}).status_code == 200
    assert hss.wait_for(1) == [("idr", "001010000000002")]


def test_delete_cancels_location_then_removes(api: LiveApi, hss: RecordingHss) -> None:
    create(api)
    api.store.update_serving_mme(IMSI, "mme1.localdomain", "localdomain", None)
    with api.client(Role.PROVISION) as http:
        assert http.delete(f"/api/v1/subscribers/{IMSI}").status_code == 204
        assert http.get(f"/api/v1/subscribers/{IMSI}").status_code == 404
        assert http.delete(f"/api/v1/subscribers/{IMSI}").status_code == 404
    assert hss.calls == [("clr", IMSI)]


def test_serving_state_is_read_only_and_reported(api: LiveApi) -> None:
    create(api)
    with api.client(Role.READ) as http:
        assert http.get(f"/api/v1/subscribers/{IMSI}/serving").json() == {"imsi": IMSI, "mme": None, "sgsn": None}
        api.store.update_serving_mme(IMSI, "mme1.localdomain", "localdomain", "mme1.localdomain")
        mme = http.get(f"/api/v1/subscribers/{IMSI}/serving").json()["mme"]
        assert http.get("/api/v1/subscribers/001019999999999/serving").status_code == 404
    with api.client(Role.ADMIN) as http:
        assert http.put(f"/api/v1/subscribers/{IMSI}/serving", json={}).status_code == 405
    assert (mme["host"], mme["realm"], mme["purged"]) == ("mme1.localdomain", "localdomain", False)


def test_auth_data_rotate_reset_and_never_the_keys(api: LiveApi) -> None:
    create(api)
    with api.client(Role.PROVISION) as http:
        info = http.get(f"/api/v1/subscribers/{IMSI}/auth").json()
        rotated = http.patch(f"/api/v1/subscribers/{IMSI}/auth", json={"ki": OPC, "op": OP, "amf": "0000"}).json()
        both = http.patch(f"/api/v1/subscribers/{IMSI}/auth", json={"opc": OPC, "op": OP})
        reset = http.post(f"/api/v1/subscribers/{IMSI}/auth/sqn", json={"sqn": 4096}).json()
        missing = http.post("/api/v1/subscribers/001019999999999/auth/sqn", json={"sqn": 1})
    assert info == {"imsi": IMSI, "algorithm": "milenage", "amf": "8000", "sqn": 32, "key_type": "opc"}
    assert (rotated["amf"], rotated["key_type"]) == ("0000", "op")
    material = api.store.get_auth_material(IMSI)
    assert material.ki == bytes.fromhex(OPC) and material.op == bytes.fromhex(OP) and material.opc is None
    assert both.status_code == 422 and both.json()["detail"][0]["loc"] == ["body", "opc"]
    assert reset["sqn"] == 4096
    assert missing.status_code == 404


def test_resync_from_rand_and_auts(api: LiveApi) -> None:
    create(api, sqn=join_sqn(10, 0))
    usim = UsimModel(bytes.fromhex(KI), bytes.fromhex(OPC))
    usim.seq_ms[3] = 5000  # the USIM is far ahead of the HSS
    rand = bytes(range(16))
    auts = usim.auts(rand)
    with api.client(Role.PROVISION) as http:
        forged = http.post(f"/api/v1/subscribers/{IMSI}/auth/resync",
                           json={"rand": rand.hex(), "auts": (auts[:-1] + bytes([auts[-1] ^ 1])).hex()})
        genuine = http.post(f"/api/v1/subscribers/{IMSI}/auth/resync", json={"rand": rand.hex(), "auts": auts.hex()})
    assert forged.status_code == 422 and forged.json()["detail"][0]["loc"] == ["body", "auts"]
    assert genuine.status_code == 200, genuine.text
    assert genuine.json()["sqn"] == usim.sqn_ms == join_sqn(5000, 3)
