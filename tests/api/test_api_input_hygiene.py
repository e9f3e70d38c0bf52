"""Inputs that reach logs and the audit trail, and bodies in other encodings: refused with 422."""

from __future__ import annotations

import json

import pytest
from apiserver import KI, OPC, LiveApi

from sigcore.store import InvalidValue
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
