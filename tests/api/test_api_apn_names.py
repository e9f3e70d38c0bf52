"""APN names over real HTTP: a new name outside the APN label rules (TS 23.003 §9.1) is 422 naming it."""

from __future__ import annotations

import pytest
from apiserver import KI, OPC, LiveApi

from sigcore.store.tokens import Role

EMOJI = "\N{GRINNING FACE}"
NEW = {"imsi": "001010000000001", "ki": KI, "opc": OPC}


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
