"""Authentication (401), roles (403), tokens, the audit log, APN profiles and Diameter peers over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from apiserver import KI, OPC, LiveApi, RecordingHss

from sigcore.applications import Services
from sigcore.diameter.answers import Identity
from sigcore.diameter.capabilities import LocalCapabilities
from sigcore.diameter.peer import Peer, State
from sigcore.store.tokens import Role, TokenRepository

IMSI = "001010000000001"
SUBSCRIBER = {"imsi": IMSI, "ki": KI, "opc": OPC, "apns": ["internet"]}
READS = ["/api/v1/subscribers", f"/api/v1/subscribers/{IMSI}", "/api/v1/apns", "/api/v1/peers"]


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer sgc_unknown", "Basic dXNlcjpwdw==", "Token abc"])
def test_every_api_request_needs_a_valid_token(api: LiveApi, header: str | None) -> None:
    with api.client(role=None) as http:
        headers = {"Authorization": header} if header else {}
        for path in READS:
            response = http.get(path, headers=headers)
            assert response.status_code == 401, path
            assert response.headers["www-authenticate"].startswith("Bearer")
        # unauthenticated clients learn nothing, not even whether their body parses
        assert http.post("/api/v1/subscribers", content=b"{", headers=headers).status_code == 401
    assert api.store.count_subscribers() == 0


def test_the_openapi_document_and_docs_are_public(api: LiveApi) -> None:
    with api.client(role=None) as http:
        document = http.get("/api/v1/openapi.json").json()
        docs = http.get("/api/v1/docs")
    assert "/api/v1/subscribers/{imsi}" in document["paths"]
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_a_revoked_token_is_refused(api: LiveApi) -> None:
    issued = TokenRepository(api.store).create(Role.ADMIN, "short-lived")
    with api.client(token=issued.secret) as http:
        assert http.get("/api/v1/apns").status_code == 200
        assert http.delete(f"/api/v1/tokens/{issued.token.id}").status_code == 200
        assert http.get("/api/v1/apns").status_code == 401


def test_roles(api: LiveApi) -> None:
    with api.client(Role.READ) as http:
        for path in READS[::2]:
            assert http.get(path).status_code == 200
        assert http.post("/api/v1/subscribers", json=SUBSCRIBER).status_code == 403
        assert http.post("/api/v1/apns", json={"name": "x"}).status_code == 403
        assert http.get("/api/v1/tokens").status_code == 403
    with api.client(Role.PROVISION) as http:
        assert http.post("/api/v1/subscribers", json=SUBSCRIBER).status_code == 201
        assert http.delete(f"/api/v1/subscribers/{IMSI}").status_code == 204
        denied = http.get("/api/v1/audit")
        assert http.post("/api/v1/tokens", json={"role": "admin"}).status_code == 403
    assert denied.status_code == 403 and "admin" in denied.json()["detail"]
    with api.client(Role.ADMIN) as http:
        assert http.post("/api/v1/subscribers", json=SUBSCRIBER).status_code == 201
        assert http.get("/api/v1/audit").status_code == 200


def test_tokens_are_created_listed_and_revoked_by_admins(api: LiveApi) -> None:
    with api.client(Role.ADMIN) as http:
        issued = http.post("/api/v1/tokens", json={"role": "read", "name": "grafana"}).json()
        listed = http.get("/api/v1/tokens").json()
        with api.client(token=issued["secret"]) as reader:
            assert reader.get("/api/v1/apns").status_code == 200
        revoked = http.delete(f"/api/v1/tokens/{issued['token']['id']}").json()
        twice = http.delete(f"/api/v1/tokens/{issued['token']['id']}")
        unknown = http.delete("/api/v1/tokens/99999")
        after = http.get("/api/v1/tokens").json()
        everything = http.get("/api/v1/tokens", params={"include_revoked": True}).json()
    assert issued["secret"].startswith("sgc_") and issued["token"]["role"] == "read"
    assert {"grafana", "test-admin"} <= {t["name"] for t in listed}
    assert all("secret" not in t and "token_sha256" not in t for t in listed)
    assert revoked["revoked_at"] is not None
    assert twice.status_code == 404 and unknown.status_code == 404
    assert "grafana" not in {t["name"] for t in after} and "grafana" in {t["name"] for t in everything}


def test_every_write_is_audited_with_who_what_when(api: LiveApi) -> None:
    with api.client(Role.PROVISION) as http:
        http.post("/api/v1/subscribers", json={**SUBSCRIBER, "msisdn": "123"})
        http.post("/api/v1/subscribers", json=SUBSCRIBER)  # 409, audited too
        http.patch(f"/api/v1/subscribers/{IMSI}", json={"odb": 1})
        http.get(f"/api/v1/subscribers/{IMSI}")  # reads are not audited
    with api.client(Role.ADMIN) as http:
        log = http.get("/api/v1/audit").json()
        page = http.get("/api/v1/audit", params={"limit": 1, "offset": 1}).json()
        mine = http.get("/api/v1/audit", params={"actor": "nobody"}).json()
    entries = log["items"]
    assert [(e["action"], e["status"]) for e in entries] == [("PATCH", 200), ("POST", 409), ("POST", 201)]
    assert {e["actor"] for e in entries} == {f"token:test-provision#{_token_id(api, 'test-provision')}"}
    assert entries[2]["target"] == "/api/v1/subscribers" and "ki" in entries[2]["detail"]
    assert entries[0]["detail"] == "fields: odb" and entries[0]["at"]
    assert page["total"] == 3 and page["items"][0]["id"] == entries[1]["id"]
    assert mine["total"] == 0


def _token_id(api: LiveApi, name: str) -> int:
    return next(t.id for t in TokenRepository(api.store).list() if t.name == name)


def test_apn_profiles_crud(api: LiveApi) -> None:
    with api.client(Role.PROVISION) as http:
        created = http.post("/api/v1/apns", json={"name": "ims", "qci": 5, "arp_priority": 1,
                                                  "pdn_type": "ipv4v6", "pgw_address": "10.0.0.1"})
        duplicate = http.post("/api/v1/apns", json={"name": "ims"})
        invalid = http.post("/api/v1/apns", json={"name": "bad", "qci": 0})
        invalid_ip = http.post("/api/v1/apns", json={"name": "bad", "pgw_address": "10.0.0.300"})
        http.post("/api/v1/apns", json={"name": "internet"})
        listed = http.get("/api/v1/apns").json()
        filtered = http.get("/api/v1/apns", params={"name_prefix": "int", "limit": 1}).json()
        patched = http.patch("/api/v1/apns/ims", json={"ambr_ul": 1000, "pgw_address": None}).json()
        http.post("/api/v1/subscribers", json={**SUBSCRIBER, "apns": ["ims"]})
        in_use = http.delete("/api/v1/apns/ims")
        deleted = http.delete("/api/v1/apns/internet")
        gone = http.get("/api/v1/apns/internet")
    assert created.status_code == 201 and created.json()["qci"] == 5
    assert duplicate.status_code == 409
    assert invalid.status_code == 422 and invalid.json()["detail"][0]["loc"] == ["body", "qci"]
    assert invalid_ip.status_code == 422 and invalid_ip.json()["detail"][0]["loc"] == ["body", "pgw_address"]
    assert [p["name"] for p in listed["items"]] == ["ims", "internet"] and listed["total"] == 2
    assert [p["name"] for p in filtered["items"]] == ["internet"]
    assert patched["ambr_ul"] == 1000 and patched["pgw_address"] is None and patched["qci"] == 5
    assert in_use.status_code == 409 and "used by 1" in in_use.json()["detail"]
    assert deleted.status_code == 204 and gone.status_code == 404


def test_an_apn_ambr_change_notifies_registered_subscribers(api: LiveApi, services: Services) -> None:
    services.notifier = hss = RecordingHss()
    with api.client(Role.PROVISION) as http:
        for n in range(3):
            http.post("/api/v1/subscribers", json={**SUBSCRIBER, "imsi": f"00101000000000{n}"})
        http.post("/api/v1/subscribers", json={**SUBSCRIBER, "imsi": "001010000000009", "apns": ["other"]})
        for imsi in ("001010000000000", "001010000000002", "001010000000009"):
            api.store.update_serving_mme(imsi, "mme1.localdomain", "localdomain", None)
        assert http.patch("/api/v1/apns/internet", json={"ambr_dl": 20_000_000}).status_code == 200
    assert sorted(hss.wait_for(2)) == [("idr", "001010000000000"), ("idr", "001010000000002")]


def _peer(name: str, state: State, remote: dict[str, Any]) -> Peer:
    peer = Peer(name, LocalCapabilities(Identity("hss.localdomain", "localdomain")))
    peer.state, peer.applications, peer.remote = state, frozenset({16777251}), remote
    return peer


def test_diameter_peers_are_listed_read_only(api: LiveApi, services: Services) -> None:
    remote = {"origin_host": "mme1.localdomain", "origin_realm": "localdomain", "host_ip_addresses": ["127.0.0.1"],
              "vendor_id": 10415, "product_name": "mme", "firmware_revision": None, "origin_state_id": 7,
              "applications": [16777251]}
    services.node = type("NodeStub", (), {"peers": {
        "mme1.localdomain": _peer("mme1.localdomain", State.R_OPEN, remote),
        "dra.localdomain": _peer("dra.localdomain", State.CLOSED, {}),
    }})()
    with api.client(Role.READ) as http:
        peers = http.get("/api/v1/peers").json()
        one = http.get("/api/v1/peers/MME1.localdomain").json()
        missing = http.get("/api/v1/peers/nobody")
        assert http.post("/api/v1/peers", json={}).status_code == 405
    assert [(p["name"], p["state"], p["open"]) for p in peers] == [
        ("dra.localdomain", "Closed", False), ("mme1.localdomain", "R-Open", True)]
    assert one["remote"]["product_name"] == "mme" and one["applications"] == [16777251]
    assert missing.status_code == 404
