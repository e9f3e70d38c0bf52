"""The console over plain HTTP: CSRF on every form, cookie flags, sign-in, roles, and no key in any answer."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).parents[1] / "api"))
sys.path.insert(0, str(Path(__file__).parent))
from apiserver import KI, OP, OPC, ThreadedApi, issue_tokens, secret_spellings
from console_http import ConsoleUser, Form, post_forms

from sigcore.store import Store, migrate
from sigcore.store.eir import EquipmentStatus
from sigcore.store.eir_admin import EirAdmin
from sigcore.store.tokens import Role, TokenRepository
from sigcore.store.tokens_models import console_sessions

IMSI = "001010000000077"
PAGES = ("/console/subscribers", f"/console/subscribers/{IMSI}", "/console/subscribers/new", "/console/apns",
         "/console/apns/internet", "/console/import", "/console/ims", "/console/eir", "/console/peers",
         "/console/traffic", "/console/audit", "/console/data/peers", "/console/data/stats",
         "/console/subscribers?q=1555&by=msisdn", f"/console/subscribers?q={IMSI[:8]}&by=imsi")


@dataclass
class Console:
    url: str
    store: Store
    tokens: dict[Role, str]
    bodies: list[str]

    def user(self, role: Role | None = Role.ADMIN) -> ConsoleUser:
        user = ConsoleUser(self.url, self.bodies)
        if role is not None:
            assert user.login(self.tokens[role]).status_code == 200
        return user


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    url = f"sqlite:///{tmp_path / 'console.sqlite'}"
    migrate(url)
    with Store(url, os.urandom(32)) as store:
        store.add_subscriber(IMSI, ki=bytes.fromhex(KI), opc=bytes.fromhex(OPC), msisdn="15550000077",
                             apns=["internet"])
        EirAdmin(store).add_rule("49015420323751", EquipmentStatus.BLACKLISTED, exact=True)
        server = ThreadedApi(store)
        server.start()
        try:
            yield Console(server.server.url, store, issue_tokens(store), [])
        finally:
            server.stop()


def _audit_count(store: Store) -> int:
    return TokenRepository(store).audit_entries(0, 1, None, None)[1]


def test_every_form_refuses_a_request_without_its_csrf_token(console: Console) -> None:
    user = console.user()
    forms = {f.action: f for path in PAGES[:8] for f in post_forms(user.http.get(path).text)}
    forms["/console/ims/deregister"] = Form("/console/ims/deregister", {"impu": "sip:a@b", "csrf": user.csrf()})
    expected = {"/console/logout", "/console/subscribers/new", f"/console/subscribers/{IMSI}",
                f"/console/subscribers/{IMSI}/keys", f"/console/subscribers/{IMSI}/delete", "/console/apns",
                "/console/apns/internet", "/console/import", "/console/eir/rules", "/console/ims/deregister"}
    assert expected <= set(forms) and any(a.endswith("/delete") and "/eir/" in a for a in forms)
    audited = _audit_count(console.store)
    for action, form in forms.items():
        assert form.fields.get("csrf"), action  # the page put the token in
        without = {k: v for k, v in form.fields.items() if k != "csrf"}
        for fields in (without, {**without, "csrf": "forged"}):
            refused = user.http.post(action, data=fields)
            assert refused.status_code == 403, action
            assert "CSRF token" in refused.text
    chunk = user.http.post("/console/import/chunk", content=b"imsi,ki,opc\n", headers={"content-type": "text/csv"})
    assert chunk.status_code == 403
    assert _audit_count(console.store) == audited  # nothing reached the API
    assert console.store.get_subscriber(IMSI).msisdn == "15550000077"
    assert len(console.store.list_apns()) == 1
    stranger = ConsoleUser(console.url, console.bodies)
    assert stranger.http.post("/console/login", data={"token": console.tokens[Role.ADMIN]}).status_code == 403
    user.close()
    stranger.close()


def test_session_cookie_is_httponly_samesite_strict_and_secure_behind_tls(console: Console) -> None:
    user = console.user(None)
    answer = user.login(console.tokens[Role.READ])
    cookie = answer.history[0].headers["set-cookie"]
    assert re.search(r"sigcore_console=[\w-]{40,}", cookie)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie
    entry = TokenRepository(console.store).audit_entries(0, 1, None, None)[0][0]
    assert (entry.action, entry.target, entry.actor) == ("LOGIN", "/console", "token:test-read#1")
    tls = ConsoleUser(console.url)
    tls.http.headers["X-Forwarded-Proto"] = "https"  # a TLS-terminating proxy on 127.0.0.1 (trusted by uvicorn)
    page = tls.http.get("/console/login")
    assert "Secure" in page.headers["set-cookie"]
    assert console.tokens[Role.READ] not in cookie and "sgc_" not in "".join(console.bodies)
    assert "default-src 'self'" in page.headers["content-security-policy"]
    user.close()
    tls.close()


def test_sign_in_refuses_unknown_tokens_and_goes_nowhere_outside(console: Console) -> None:
    user = console.user(None)
    refused = user.login("sgc_not-a-token")
    assert refused.status_code == 401 and "unknown or revoked" in refused.text
    assert user.http.get("/console/subscribers", follow_redirects=False).status_code == 303  # still signed out
    page = user.http.get("/console/login?next=//evil.example/x")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    answer = user.http.post("/console/login", data={"csrf": csrf.group(1), "token": console.tokens[Role.READ],
                                                    "next": "//evil.example/x"}, follow_redirects=False)
    assert answer.headers["location"] == "/console/subscribers"
    user.close()


def test_a_revoked_token_ends_its_session(console: Console) -> None:
    user = console.user(Role.PROVISION)
    assert user.http.get(f"/console/subscribers/{IMSI}").status_code == 200
    repo = TokenRepository(console.store)
    token = next(t for t in repo.list(False) if t.role is Role.PROVISION)
    repo.revoke(token.id)
    answer = user.http.get(f"/console/subscribers/{IMSI}", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/console/login?next=")
    assert user.http.get("/console/subscribers", follow_redirects=False).status_code == 303
    with console.store.reading() as conn:  # the session's row went with it
        assert conn.execute(select(func.count()).select_from(console_sessions)).scalar_one() == 0
    user.close()


def test_read_only_role_sees_no_edit_controls_and_the_api_refuses_its_posts(console: Console) -> None:
    admin = console.user()
    writable = {f.action: f for path in PAGES[:8] for f in post_forms(admin.http.get(path).text)}
    reader = console.user(Role.READ)
    for path in PAGES[:8]:
        page = reader.http.get(path)
        assert page.status_code == 200, path
        assert [f.action for f in post_forms(page.text)] == ["/console/logout"], path
    csrf = reader.csrf()
    audited = _audit_count(console.store)
    for action, form in writable.items():
        if action == "/console/logout":
            continue
        answer = reader.http.post(action, data={**form.fields, "csrf": csrf, "msisdn": "1", "ki": KI, "pattern":
                                                "35209900176148"}, files={"file": ("b.csv", b"imsi,ki,opc\n")}
                                  if action == "/console/import" else None)
        assert answer.status_code == 403, action
        assert "role provision" in answer.text, action
    assert console.store.get_subscriber(IMSI).msisdn == "15550000077"
    assert _audit_count(console.store) > audited  # the API saw (and logged) each refused write
    admin.close()
    reader.close()


def test_no_page_or_answer_ever_contains_a_key(console: Console) -> None:
    user = console.user()
    csrf = user.csrf()
    created = user.http.post("/console/subscribers/new", data={
        "csrf": csrf, "imsi": "001010000000078", "ki": KI, "key_type": "opc", "operator_key": OPC, "apns": "ims"})
    assert created.status_code == 200 and "Created." in created.text
    bad = user.http.post("/console/subscribers/new", data={
        "csrf": csrf, "imsi": "00101000000007", "ki": KI[:-1], "key_type": "op", "operator_key": OP + "0"})
    assert bad.status_code == 422 and "32 hexadecimal digits" in bad.text
    rotated = user.http.post(f"/console/subscribers/{IMSI}/keys", data={
        "csrf": csrf, "ki": OPC, "key_type": "op", "operator_key": OP})
    assert "Keys replaced." in rotated.text and "OP stored" in rotated.text
    clash = user.http.post(f"/console/subscribers/{IMSI}/keys", data={"csrf": csrf, "ki": KI + "Z"})
    assert clash.status_code == 422
    csv = f"imsi,ki,opc,msisdn\n001010000000079,{KI},{OPC},15550000079\n00101000000008x,{KI},{OPC},\n"
    imported = user.http.post("/console/import/chunk", content=csv.encode(),
                              headers={"content-type": "text/csv", "x-csrf-token": csrf})
    assert imported.json()["imported"] == 1 and imported.json()["rejected"][0]["line"] == 3
    form_import = user.http.post("/console/import", data={"csrf": csrf}, files={"file": ("b.csv", csv.encode())})
    assert "Imported 0 of 2 rows; 2 rejected." in form_import.text
    for path in (*PAGES, "/console/subscribers/001010000000078", "/console/subscribers/001010000000079"):
        assert user.http.get(path).status_code == 200, path
    leaked = [s for s in secret_spellings() for body in console.bodies if s in body]
    assert not leaked
    user.close()


def test_ims_page_lists_identities_with_their_registration(console: Console) -> None:
    import httpx

    with httpx.Client(base_url=console.url, headers={"Authorization": f"Bearer {console.tokens[Role.PROVISION]}"},
                      timeout=30) as api:
        created = api.post("/api/v1/ims/private-identities", json={
            "impi": "alice@ims.example", "public_identities": ["sip:alice@ims.example", "tel:+15550000077"],
            "imsi": IMSI, "password": "a-sip-password", "preferred_scscf": "sip:scscf.ims.example"})
        assert created.status_code == 201, created.text
    user = console.user(Role.READ)
    page = user.http.get("/console/ims", params={"q": "sip:alice"})
    assert page.status_code == 200
    assert "sip:alice@ims.example" in page.text and "tel:+15550000077" not in page.text.split('id="impis"')[0]
    assert "not registered" in page.text and "sip:scscf.ims.example" in page.text
    assert "a-sip-password" not in "".join(console.bodies)
    writer = console.user(Role.PROVISION)
    refused = writer.http.post("/console/ims/deregister", data={"csrf": writer.csrf(), "impu": "sip:alice@ims.example"})
    assert refused.status_code == 409 and "is not registered at an S-CSCF" in refused.text  # the API's answer
    user.close()
    writer.close()


def test_sign_out_ends_the_session(console: Console) -> None:
    user = console.user(Role.READ)
    out = user.http.post("/console/logout", data={"csrf": user.csrf()})
    assert out.status_code == 200 and "Signed out." in out.text and 'name="token"' in out.text
    assert user.http.get("/console/subscribers", follow_redirects=False).status_code == 303
    entry = TokenRepository(console.store).audit_entries(0, 1, None, None)[0][0]
    assert (entry.action, entry.actor) == ("LOGOUT", "token:test-read#1")
    user.close()


def test_apn_and_eir_forms_create_and_show_errors_at_their_fields(console: Console) -> None:
    user = console.user(Role.PROVISION)
    csrf = user.csrf()
    bad = user.http.post("/console/apns", data={"csrf": csrf, "name": "two words", "qci": "9", "arp_priority": "x"})
    assert bad.status_code == 422 and 'id="arp_priority-error"' in bad.text and "whole number" in bad.text
    bad = user.http.post("/console/apns", data={"csrf": csrf, "name": "two words", "qci": "300"})
    assert bad.status_code == 422 and 'id="name-error"' in bad.text and 'id="qci-error"' in bad.text
    made = user.http.post("/console/apns", data={"csrf": csrf, "name": "iot.m2m", "qci": "7", "arp_priority": "3",
                                                 "ambr_ul": "64000", "ambr_dl": "128000", "pdn_type": "ipv4v6"})
    assert made.status_code == 200 and "Created." in made.text and "64 kbit/s up, 128 kbit/s down" in made.text
    profile = console.store.get_apn("iot.m2m")
    assert (profile.qci, profile.arp_priority, profile.ambr_dl, profile.pdn_type.value) == (7, 3, 128000, "ipv4v6")
    rule = user.http.post("/console/eir/rules", data={"csrf": csrf, "kind": "imei", "pattern": "490154203237519",
                                                      "status": "blacklisted"})
    assert rule.status_code == 422 and 'id="pattern-error"' in rule.text  # the check digit is 8
    rule = user.http.post("/console/eir/rules", data={"csrf": csrf, "kind": "prefix", "pattern": "3520990",
                                                      "status": "greylisted", "comment": "trial batch"})
    assert rule.status_code == 200 and "trial batch" in rule.text
    rules = {r.pattern: r for r in EirAdmin(console.store).page_rules(0, 10)[0]}
    assert rules["3520990"].status.value == "greylisted"
    deleted = user.http.post(f"/console/eir/rules/{rules['3520990'].id}/delete", data={"csrf": csrf})
    assert deleted.status_code == 200 and "Deleted." in deleted.text and "trial batch" not in deleted.text
    user.close()


def test_subscriber_search_filters_by_apn_and_its_pages_keep_the_filter(console: Console) -> None:
    for n in range(30):
        console.store.add_subscriber(f"00101000000{n:04d}", ki=bytes.fromhex(KI), opc=bytes.fromhex(OPC),
                                     apns=["ims" if n % 2 else "internet", "mms"] if n < 28 else ["internet"])
    user = console.user()
    first = user.http.get("/console/subscribers", params={"by": "imsi", "apn": "mms"})
    assert first.status_code == 200
    listed = re.findall(r'/console/subscribers/([0-9]{15})"', first.text)
    assert listed == [f"00101000000{n:04d}" for n in range(25)]
    assert "holding APN mms" in first.text
    following = re.search(r'id="next-page" href="([^"]+)"', first.text)
    assert following is not None and "apn=mms" in following.group(1)
    second = user.http.get(following.group(1).replace("&amp;", "&"))
    assert re.findall(r'/console/subscribers/([0-9]{15})"', second.text) == \
        [f"00101000000{n:04d}" for n in range(25, 28)]
    ims = user.http.get("/console/subscribers", params={"by": "imsi", "q": "00101000000000", "apn": "ims"})
    assert re.findall(r'/console/subscribers/([0-9]{15})"', ims.text) == \
        [f"00101000000{n:04d}" for n in (1, 3, 5, 7, 9)]
    refused = user.http.get("/console/subscribers", params={"apn": "two words"})
    assert refused.status_code == 200 and 'id="apn-error"' in refused.text and "has no spaces" in refused.text
    none = user.http.get("/console/subscribers", params={"apn": "nobody-holds-this"})
    assert "No subscriber matches." in none.text
