"""Inputs that reach logs and the audit trail, and bodies in other encodings: refused with 422."""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import Any

import pytest
from apiserver import KI, OPC, LiveApi
from sqlalchemy import event

from sigcore.store import InvalidValue, Store
from sigcore.store.tokens import Role, TokenRepository

NEW = {"imsi": "001010000000777", "ki": KI, "opc": OPC, "apns": ["internet"]}


@pytest.mark.parametrize("name", ["ops\nforged audit line", "bell\x07", "n\x85el", "tab\there", "l\u2028s"])
def test_token_names_with_control_characters_are_refused(api: LiveApi, name: str) -> None:
    with api.client(Role.ADMIN) as http:
        refused = http.post("/api/v1/tokens", json={"role": "read", "name": name})
        listed = http.get("/api/v1/tokens").json()
    assert refused.status_code == 422, refused.text
    assert all(token["name"] != name for token in listed)
    with pytest.raises(InvalidValue, match=r"^name: printable"):
        TokenRepository(api.store).create(Role.READ, name)  # the CLI's path, through the store


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_a_body_not_in_utf8_is_422(api: LiveApi, encoding: str) -> None:
    with api.client(Role.PROVISION) as http:
        answer = http.post("/api/v1/subscribers", content=json.dumps(NEW).encode(encoding),
                           headers={"Content-Type": "application/json"})
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"][0]["loc"] == ["body"]
        assert http.get(f"/api/v1/subscribers/{NEW['imsi']}").status_code == 404
        assert http.post("/api/v1/subscribers", json=NEW).status_code == 201


def refuse_writes(store: Store, tables: set[str] | None = None) -> None:
    """SQLite refuses writes (to `tables`, or all): what a full disk does to the API's transactions."""
    def authorizer(action: int, table: str | None, *_rest: Any) -> int:
        write = action in (sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE)
        return sqlite3.SQLITE_DENY if write and (tables is None or table in tables) else sqlite3.SQLITE_OK

    event.listen(store.engine, "connect", lambda dbapi, _record: dbapi.set_authorizer(authorizer))
    store.engine.dispose()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_failing_database_gets_json_503_and_an_audit_entry(api: LiveApi, caplog: pytest.LogCaptureFixture) -> None:
    refuse_writes(api.store, {"subscribers", "auth_data", "subscriber_apns", "apn_profiles"})
    with api.client(Role.PROVISION) as http, caplog.at_level(logging.INFO, "sigcore.api"):
        answers = [http.post("/api/v1/subscribers", json={**NEW, "imsi": f"00101000000{n:04d}"}) for n in range(30)]
    assert {a.status_code for a in answers} == {503}
    assert answers[0].headers["content-type"] == "application/json"
    assert "database failed" in answers[0].json()["detail"]
    with api.client(Role.ADMIN) as http:
        audit = http.get("/api/v1/audit", params={"limit": 50}).json()["items"]
    assert sum(1 for e in audit if e["status"] == 503 and e["target"] == "/api/v1/subscribers") == 30
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) <= 6 and sum(1 for r in errors if r.exc_info) == 1, [r.getMessage() for r in errors]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_when_the_audit_cannot_be_stored_it_goes_to_the_log(api: LiveApi, caplog: pytest.LogCaptureFixture) -> None:
    refuse_writes(api.store)  # the whole disk is full: the audit entry cannot be stored either
    with api.client(Role.PROVISION) as http, caplog.at_level(logging.INFO, "sigcore.api"):
        answer = http.post("/api/v1/subscribers", json=NEW)
    assert answer.status_code == 503 and answer.json()["detail"].startswith("the database failed")
    assert any("audit entry not stored" in r.getMessage() and "POST /api/v1/subscribers" in r.getMessage()
               and "-> 503" in r.getMessage() for r in caplog.records)
