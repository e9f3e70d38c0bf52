"""IMS identities and service profiles over real HTTP, on SQLite and PostgreSQL; RTR/PPR via ``services["cx"]``."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import pytest
from apiserver import KI, OPC, LiveApi

from sigcore.applications import Services
from sigcore.hss.ims.codes import ReasonCode
from sigcore.store.ims import ImsStore, RegState, digest_ha1
from sigcore.store.tokens import Role, TokenRepository

V1 = "/api/v1/ims"
IMPI = "alice@ims.example.org"
IMPU = "sip:alice@ims.example.org"
TEL = "tel:+15550001"
PASSWORD = "Wonderland-7f3a9c"
HA1 = digest_ha1(IMPI, "ims.example.org", PASSWORD)
SCSCF = "scscf.ims.example.org"
IFC = {"priority": 10, "server_name": "sip:as.ims.example.org", "method": "INVITE",
       "session_case": "originating", "default_handling": "session_terminated", "profile_part": "registered",
       "request_uri": "^sip:.*", "service_info": "voicemail"}


class RecordingCx:
    """Stands in for the IMS HSS's `CxService`: remembers each RTR/PPR the API asks for (after the answer)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[str, str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.calls) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.calls

    async def deregister(self, impi_name: str, reason: ReasonCode = ReasonCode.PERMANENT_TERMINATION,
                         info: str = "") -> list[int | None]:
        self.calls.append(("rtr", impi_name, reason))
        return [2001]

    async def push_profile(self, impi_name: str) -> list[int | None]:
        self.calls.append(("ppr", impi_name, None))
        return [2001]


@pytest.fixture
def cx(services: Services) -> RecordingCx:
    services.cx = recorder = RecordingCx()  # type: ignore[assignment]
    return recorder


def path(uri: str) -> str:
    return quote(uri, safe="")


def create_user(api: LiveApi, **changes: Any) -> dict[str, Any]:
    body = {"impi": IMPI, "public_identities": [IMPU, TEL], "password": PASSWORD, **changes}
    with api.client(Role.PROVISION) as http:
        response = http.post(f"{V1}/private-identities", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def register(api: LiveApi, uri: str = IMPU) -> None:
    """What a SAR would have written: the implicit set of ``uri`` registered at SCSCF."""
    ims = ImsStore(api.store)
    found = ims.get_impu(uri)
    assert found is not None
    ims.set_registration(ims.implicit_set(found), RegState.REGISTERED, scscf_name=f"sip:{SCSCF}",
                         scscf_host=SCSCF, scscf_realm="ims.example.org")


def test_private_identity_with_password_keeps_ha1_only_and_never_returns_it(api: LiveApi) -> None:
    created = create_user(api)
    assert created == {"impi": IMPI, "imsi": None, "digest_realm": "ims.example.org",
                       "authentication": ["digest"], "roaming_allowed": False, "public_identities": [IMPU, TEL]}
    assert ImsStore(api.store).get_impi(IMPI).digest_ha1 == HA1
    with api.client(Role.READ) as http:
        assert http.get(f"{V1}/private-identities/{path(IMPI)}").json() == created
        listed = http.get(f"{V1}/private-identities", params={"impi_prefix": "ali"}).json()
        assert listed["total"] == 1 and listed["items"] == [created]
        assert http.get(f"{V1}/private-identities", params={"impi_prefix": "bob"}).json()["total"] == 0
        assert http.get(f"{V1}/private-identities/nobody@x").status_code == 404
        with api.client(Role.ADMIN) as admin:
            audit = admin.get("/api/v1/audit").text
    assert "password" in audit  # the field name is audited...
    for body in [*api.bodies, audit]:  # ...its value, and HA1, never appear
        assert PASSWORD not in body and HA1 not in body and HA1.upper() not in body


def test_private_identity_linked_to_a_subscriber_uses_aka(api: LiveApi) -> None:
    api.store.add_subscriber("001010000000001", ki=KI, opc=OPC, apns=["ims"])
    created = create_user(api, password=None, imsi="001010000000001", impi="001010000000001@ims.example.org",
                          public_identities=["sip:001010000000001@ims.example.org"])
    assert created["authentication"] == ["aka"] and created["imsi"] == "001010000000001"
    assert created["digest_realm"] is None
    with api.client(Role.READ) as http:
        listed = http.get(f"{V1}/private-identities", params={"imsi": "001010000000001"}).json()
    assert [i["impi"] for i in listed["items"]] == ["001010000000001@ims.example.org"]
    assert not any(KI in b or KI.lower() in b or OPC in b or OPC.lower() in b for b in api.bodies)


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"password": None}, "body", "give a password"),
        ({"imsi": "001019999999999", "password": None}, "imsi", "no subscriber"),
        ({"service_profile": "gold"}, "service_profile", "no IMS service profile"),
        ({"public_identities": []}, "public_identities", "at least 1"),
        ({"public_identities": ["sip:a b@x"]}, "public_identities", "'sip:a b@x' is not a public identity"),
        ({"public_identities": ["alice@ims.example.org"]}, "public_identities", "expected a sip:, sips: or tel:"),
        ({"public_identities": [IMPU, "tel:alice"]}, "public_identities", "'tel:alice' is not a public identity"),
        ({"impi": "alice"}, "impi", "'alice' is not a private identity: expected username@realm"),
        ({"impi": "sip:alice@ims.example.org"}, "impi", "expected username@realm"),
        ({"impi": "a@b@ims.example.org"}, "impi", "expected username@realm"),
        ({"public_identities": [IMPU, IMPU]}, "body", "listed twice"),
        ({"barred": ["sip:other@x"]}, "body", "barred"),
        ({"impi": "a/b@x"}, "impi", "expected username@realm"),
        ({"ha1": HA1}, "ha1", "Extra inputs"),
    ],
)
def test_invalid_private_identity_is_422(api: LiveApi, changes: dict[str, Any], field: str, reason: str) -> None:
    body = {"impi": IMPI, "public_identities": [IMPU], "password": PASSWORD, **changes}
    with api.client(Role.PROVISION) as http:
        response = http.post(f"{V1}/private-identities", json=body)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert any(field in map(str, e["loc"]) and reason in e["msg"] for e in errors), errors


def test_a_taken_private_identity_is_409(api: LiveApi) -> None:
    create_user(api)
    with api.client(Role.PROVISION) as http:
        response = http.post(f"{V1}/private-identities", json={"impi": IMPI, "public_identities": ["sip:x@y"],
                                                               "password": "p"})
    assert response.status_code == 409 and IMPI in response.json()["detail"]


def test_public_identities_show_set_profile_and_registration(api: LiveApi) -> None:
    create_user(api, barred=[TEL])
    register(api)
    with api.client(Role.READ) as http:
        impu = http.get(f"{V1}/public-identities/{path(IMPU)}").json()
        tel = http.get(f"{V1}/public-identities/{path(TEL)}").json()
        everything = http.get(f"{V1}/public-identities").json()
        barred = http.get(f"{V1}/public-identities", params={"barred": True}).json()
        of_impi = http.get(f"{V1}/public-identities", params={"impi": IMPI, "limit": 1, "offset": 1}).json()
        registered = http.get(f"{V1}/public-identities", params={"reg_state": "registered"}).json()
        by_prefix = http.get(f"{V1}/public-identities", params={"impu_prefix": "tel:"}).json()
        assert http.get(f"{V1}/public-identities/{path('sip:nobody@x')}").status_code == 404
    assert impu["kind"] == "public_user" and impu["service_profile"] == "default" and not impu["barred"]
    assert impu["implicit_set"] == [IMPU, TEL] and impu["private_identities"] == [IMPI]
    assert impu["registration"] == {"state": "registered", "scscf_name": f"sip:{SCSCF}", "scscf_host": SCSCF,
                                    "scscf_realm": "ims.example.org"}
    assert tel["barred"] and tel["implicit_set"] == [IMPU, TEL]
    assert everything["total"] == 2 and [i["impu"] for i in everything["items"]] == [IMPU, TEL]
    assert [i["impu"] for i in barred["items"]] == [TEL]
    assert of_impi["total"] == 2 and [i["impu"] for i in of_impi["items"]] == [TEL]
    assert registered["total"] == 2 and by_prefix["total"] == 1


def test_a_change_to_a_registered_identity_is_pushed_to_its_scscf(api: LiveApi, cx: RecordingCx) -> None:
    create_user(api)
    with api.client(Role.PROVISION) as http:
        quiet = http.patch(f"{V1}/public-identities/{path(TEL)}", json={"display_name": "Alice"})
        assert quiet.status_code == 200 and quiet.json()["display_name"] == "Alice"
        register(api)
        barred = http.patch(f"{V1}/public-identities/{path(TEL)}", json={"barred": True})
        assert barred.status_code == 200 and barred.json()["barred"] is True
        assert cx.wait_for(1) == [("ppr", IMPI, None)]
        same = http.patch(f"{V1}/public-identities/{path(TEL)}", json={"barred": True})  # nothing changes
        cleared = http.patch(f"{V1}/public-identities/{path(TEL)}", json={"display_name": None})
    assert same.status_code == 200 and cleared.json()["display_name"] is None
    assert cx.wait_for(2) == [("ppr", IMPI, None)] * 2


def test_public_identity_create_implicit_sets_psis_and_delete(api: LiveApi) -> None:
    create_user(api, public_identities=[IMPU])
    extra = "sip:alice.work@ims.example.org"
    with api.client(Role.PROVISION) as http:
        own_set = http.post(f"{V1}/public-identities", json={"impu": extra, "private_identities": [IMPI]})
        assert own_set.status_code == 201 and own_set.json()["implicit_set"] == [extra]
        joined = http.patch(f"{V1}/public-identities/{path(extra)}", json={"implicit_set_with": IMPU})
        assert joined.json()["implicit_set"] == [IMPU, extra]
        left = http.patch(f"{V1}/public-identities/{path(extra)}", json={"implicit_set_with": extra})
        assert left.json()["implicit_set"] == [extra]
        psi = http.post(f"{V1}/public-identities", json={"impu": "sip:conf!.*!@ims.example.org",
                                                         "kind": "wildcarded_psi",
                                                         "wildcard": "sip:conf-![0-9]+!@ims.example.org"})
        assert psi.status_code == 201 and psi.json()["private_identities"] == []
        taken = http.post(f"{V1}/public-identities", json={"impu": extra, "private_identities": [IMPI]})
        assert taken.status_code == 409
        unknown_impi = http.post(f"{V1}/public-identities", json={"impu": "sip:n@x", "private_identities": ["no@x"]})
        orphan_user = http.post(f"{V1}/public-identities", json={"impu": "sip:n@x"})
        bad_regex = http.post(f"{V1}/public-identities", json={"impu": "sip:w@x", "kind": "wildcarded_psi",
                                                               "wildcard": "(["})
        catastrophic = http.post(f"{V1}/public-identities", json={"impu": "sip:v@x", "kind": "wildcarded_psi",
                                                                  "wildcard": "sip:v!(a+)+!@x"})
        stranger = http.post(f"{V1}/public-identities", json={"impu": "sip:psi@x", "kind": "distinct_psi"})
        foreign_set = http.patch(f"{V1}/public-identities/{path('sip:psi@x')}", json={"implicit_set_with": IMPU})
        bad_profile = http.patch(f"{V1}/public-identities/{path(extra)}", json={"service_profile": "gold"})
        create_user(api, impi="bob@ims.example.org", public_identities=["sip:bob@ims.example.org"])
        last = http.delete(f"{V1}/public-identities/{path('sip:bob@ims.example.org')}")
        register(api, extra)
        registered = http.delete(f"{V1}/public-identities/{path(extra)}")
        assert http.delete(f"{V1}/public-identities/{path('sip:conf!.*!@ims.example.org')}").status_code == 204
        assert http.get(f"{V1}/public-identities/{path('sip:conf!.*!@ims.example.org')}").status_code == 404
        assert http.delete(f"{V1}/public-identities/{path('sip:conf!.*!@ims.example.org')}").status_code == 404
    for response, field in ((unknown_impi, "private_identities"), (orphan_user, "private_identities"),
                            (bad_regex, "wildcard"), (catastrophic, "wildcard"), (foreign_set, "implicit_set_with"),
                            (bad_profile, "service_profile")):
        assert response.status_code == 422, response.text
        assert field in response.json()["detail"][0]["loc"]
    assert stranger.status_code == 201
    assert last.status_code == 409 and "last public identity" in last.json()["detail"]
    assert registered.status_code == 409 and "deregister" in registered.json()["detail"]


@pytest.mark.parametrize(("body", "created"), [
    ({"impu": "psi@ims.example.org", "kind": "distinct_psi"}, False),  # TS 23.003 §13.5: a SIP or tel URI
    ({"impu": "conf!.*!@ims.example.org", "kind": "wildcarded_psi"}, False),
    ({"impu": "tel:+1555!\\d*!", "kind": "wildcarded_psi"}, True),  # the '!...!' part is a pattern, not URI text
    ({"impu": "sip:conf-![0-9]+!@ims.example.org", "kind": "wildcarded_psi"}, True),
    ({"impu": "tel:+1-555-0002", "private_identities": [IMPI]}, True),
])
def test_a_public_identity_is_created_only_as_a_sip_or_tel_uri(api: LiveApi, body: dict[str, Any],
                                                              created: bool) -> None:
    create_user(api, public_identities=[IMPU])
    with api.client(Role.PROVISION) as http:
        response = http.post(f"{V1}/public-identities", json=body)
        found = http.get(f"{V1}/public-identities", params={"impu_prefix": body["impu"][:4]}).json()["items"]
    if created:
        assert response.status_code == 201, response.text
        assert body["impu"] in [i["impu"] for i in found]
    else:
        assert response.status_code == 422, response.text
        [error] = response.json()["detail"]
        assert error["loc"] == ["body", "impu"] and f"impu: {body['impu']!r} is not a public identity" in error["msg"]
        assert body["impu"] not in [i["impu"] for i in found]


def test_administrative_deregistration_sends_an_rtr_after_the_answer(api: LiveApi, cx: RecordingCx) -> None:
    create_user(api)
    with api.client(Role.PROVISION) as http:
        not_registered = http.post(f"{V1}/public-identities/{path(IMPU)}/deregister")
        register(api)
        accepted = http.post(f"{V1}/public-identities/{path(TEL)}/deregister", json={"reason": "server_change"})
        unknown = http.post(f"{V1}/public-identities/{path('sip:x@y')}/deregister")
        bad_reason = http.post(f"{V1}/public-identities/{path(IMPU)}/deregister", json={"reason": "whim"})
    assert not_registered.status_code == 409 and unknown.status_code == 404 and bad_reason.status_code == 422
    assert accepted.status_code == 202, accepted.text
    assert accepted.json() == {"impu": TEL, "private_identities": [IMPI], "scscf_host": SCSCF}
    assert cx.wait_for(1) == [("rtr", IMPI, ReasonCode.SERVER_CHANGE)]


def test_deregistration_without_the_ims_hss_is_503(api: LiveApi) -> None:
    create_user(api)
    register(api)
    with api.client(Role.PROVISION) as http:
        response = http.post(f"{V1}/public-identities/{path(IMPU)}/deregister")
    assert response.status_code == 503 and "Cx" in response.json()["detail"]


def test_deleting_a_registered_private_identity_deregisters_it_first(api: LiveApi, cx: RecordingCx) -> None:
    create_user(api)
    create_user(api, impi="bob@ims.example.org", public_identities=["sip:bob@ims.example.org"])
    register(api)
    with api.client(Role.PROVISION) as http:
        assert http.delete(f"{V1}/private-identities/{path(IMPI)}").status_code == 204
        assert cx.calls == [("rtr", IMPI, ReasonCode.PERMANENT_TERMINATION)]  # sent before the answer
        assert http.delete(f"{V1}/private-identities/{path('bob@ims.example.org')}").status_code == 204
        assert http.delete(f"{V1}/private-identities/{path(IMPI)}").status_code == 404
        assert http.get(f"{V1}/public-identities/{path(IMPU)}").status_code == 404
    assert len(cx.calls) == 1  # bob was not registered: no RTR


def test_service_profiles_with_ifcs(api: LiveApi, cx: RecordingCx) -> None:
    profile = {"name": "gold", "media_profile_id": 3, "ccf_primary": "aaa://ccf.example.org", "ifcs": [IFC],
               "shared_ifc_sets": [7], "mandatory_capabilities": [1], "optional_capabilities": [2]}
    with api.client(Role.PROVISION) as http:
        created = http.post(f"{V1}/service-profiles", json=profile)
        assert created.status_code == 201, created.text
        assert http.post(f"{V1}/service-profiles", json={"name": "gold"}).status_code == 409
        create_user(api, service_profile="gold")
        register(api)
        second = {**IFC, "priority": 20, "method": None, "session_case": "terminating_unregistered",
                  "profile_part": None, "request_uri": None, "service_info": None}
        changed = http.patch(f"{V1}/service-profiles/gold", json={"ifcs": [IFC, second], "ccf_primary": None,
                                                                  "mandatory_capabilities": []})
        in_use = http.delete(f"{V1}/service-profiles/gold")
        same_priority = http.patch(f"{V1}/service-profiles/gold", json={"ifcs": [IFC, IFC]})
        both = http.post(f"{V1}/service-profiles", json={"name": "x", "mandatory_capabilities": [1],
                                                         "optional_capabilities": [1]})
        overlapping = http.patch(f"{V1}/service-profiles/gold", json={"mandatory_capabilities": [2]})
        assert http.post(f"{V1}/service-profiles", json={"name": "spare"}).status_code == 201
        assert http.delete(f"{V1}/service-profiles/spare").status_code == 204
        assert http.patch(f"{V1}/service-profiles/spare", json={}).status_code == 404
        assert http.delete(f"{V1}/service-profiles/spare").status_code == 404
    with api.client(Role.READ) as http:
        read = http.get(f"{V1}/service-profiles/gold").json()
        listed = http.get(f"{V1}/service-profiles", params={"name_prefix": "go"}).json()
        impu = http.get(f"{V1}/public-identities/{path(IMPU)}").json()
        by_profile = http.get(f"{V1}/public-identities", params={"service_profile": "gold"}).json()
    stored = created.json()
    assert stored["ifcs"] == [IFC] and stored["shared_ifc_sets"] == [7] and stored["media_profile_id"] == 3
    assert (stored["ccf_primary"], stored["mandatory_capabilities"], stored["optional_capabilities"]) == (
        "aaa://ccf.example.org", [1], [2])
    assert changed.status_code == 200 and read == changed.json() and listed["items"] == [read]
    assert read["ifcs"] == [IFC, second] and read["ccf_primary"] is None
    assert read["mandatory_capabilities"] == [] and read["optional_capabilities"] == [2]
    assert cx.wait_for(1) == [("ppr", IMPI, None)]
    assert in_use.status_code == 409 and impu["service_profile"] == "gold" and by_profile["total"] == 2
    for response in (same_priority, both, overlapping):
        assert response.status_code == 422, response.text


def test_the_ims_profile_feeds_the_cx_user_data(api: LiveApi) -> None:
    """What the API writes is what the HSS sends the S-CSCF (SAA/PPR User-Data)."""
    from sigcore.hss.cx.handlers import CxService

    with api.client(Role.PROVISION) as http:
        assert http.post(f"{V1}/service-profiles", json={"name": "gold", "ifcs": [IFC]}).status_code == 201
    create_user(api, service_profile="gold", barred=[TEL])
    ims = ImsStore(api.store)
    found = ims.get_impu(IMPU)
    assert found is not None
    user_data = CxService(api.store).user_data(IMPI, found).decode()
    assert "<ServerName>sip:as.ims.example.org</ServerName>" in user_data
    assert "<Method>INVITE</Method>" in user_data and "<BarringIndication>1</BarringIndication>" in user_data


WRITES = [
    ("POST", f"{V1}/private-identities", {"impi": "x@y", "public_identities": ["sip:x@y"], "password": "p"}),
    ("DELETE", f"{V1}/private-identities/x@y", None),
    ("POST", f"{V1}/public-identities", {"impu": "sip:psi@y", "kind": "distinct_psi"}),
    ("PATCH", f"{V1}/public-identities/sip:x@y", {"barred": True}),
    ("DELETE", f"{V1}/public-identities/sip:x@y", None),
    ("POST", f"{V1}/public-identities/sip:x@y/deregister", None),
    ("POST", f"{V1}/service-profiles", {"name": "p"}),
    ("PATCH", f"{V1}/service-profiles/default", {"media_profile_id": 1}),
    ("DELETE", f"{V1}/service-profiles/default", None),
]
READS = [f"{V1}/private-identities", f"{V1}/private-identities/x@y", f"{V1}/public-identities",
         f"{V1}/public-identities/sip:x@y", f"{V1}/service-profiles", f"{V1}/service-profiles/default"]


def test_every_ims_endpoint_needs_a_token_and_writes_need_provision(api: LiveApi) -> None:
    with api.client(None) as anonymous, api.client(Role.READ) as reader:
        for method, url, body in WRITES:
            assert anonymous.request(method, url, json=body).status_code == 401, url
            denied = reader.request(method, url, json=body)
            assert denied.status_code == 403 and "provision" in denied.json()["detail"], url
        for url in READS:
            assert anonymous.get(url).status_code == 401, url
            assert reader.get(url).status_code in (200, 404), url
    audit = TokenRepository(api.store).audit_entries(0, 100, None, None)[0]
    assert len(audit) == len(WRITES) and {e.status for e in audit} == {403}  # refused writes are audited


def test_ims_writes_are_audited_without_secrets(api: LiveApi) -> None:
    create_user(api)
    with api.client(Role.PROVISION) as http:
        http.patch(f"{V1}/public-identities/{path(TEL)}", json={"barred": True})
    entries = TokenRepository(api.store).audit_entries(0, 10, None, None)[0]
    assert [(e.action, e.status) for e in entries] == [("PATCH", 200), ("POST", 201)]
    assert entries[0].detail == "fields: barred"
    assert entries[1].detail is not None and entries[1].detail.startswith(f"impi {IMPI};")
    assert "password" in entries[1].detail and PASSWORD not in entries[1].detail
