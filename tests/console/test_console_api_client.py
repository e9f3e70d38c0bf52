"""The console's in-process API client: the answer as soon as its body is complete, background work after."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from sigcore.api.app import create_app
from sigcore.api.auth import CONSOLE_TOKEN
from sigcore.console.api_client import ApiAnswer, ApiClient, segment
from sigcore.store import Store, migrate
from sigcore.store.tokens import Role, TokenRepository


async def test_the_answer_comes_before_the_routes_background_work() -> None:
    finished = asyncio.Event()
    seen: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.update(scope)
        body = (await receive())["body"]
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": json.dumps({"echo": json.loads(body)}).encode()})
        assert (await receive())["type"] == "http.disconnect"  # only once the answer is complete
        await asyncio.sleep(0.2)  # an IDR to the serving MME, say
        finished.set()

    answer = await ApiClient(app, 7, ("192.0.2.1", 5)).post("/apns", {"name": "a b"})
    assert answer == ApiAnswer(201, {"echo": {"name": "a b"}}) and not finished.is_set()
    await asyncio.wait_for(finished.wait(), 5)
    assert seen["path"] == "/api/v1/apns" and seen["client"] == ("192.0.2.1", 5)
    assert seen["extensions"] == {CONSOLE_TOKEN: {"token_id": 7}}  # the token's id, never a secret
    assert not any(name == b"authorization" for name, _ in seen["headers"])


async def test_query_and_quoted_segments_reach_the_route() -> None:
    seen: dict[str, Any] = {}

    async def app(scope: dict[str, Any], _receive: Any, send: Any) -> None:
        seen.update(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"[]"})

    client = ApiClient(app, 1)
    await client.get(f"/ims/public-identities/{segment('sip:alice@ims.example')}", limit=5, flag=True, empty="",
                     missing=None, apn=["a", "b"])
    assert seen["path"] == "/api/v1/ims/public-identities/sip:alice@ims.example"
    assert seen["raw_path"] == b"/api/v1/ims/public-identities/sip%3Aalice%40ims.example"
    assert seen["query_string"] == b"limit=5&flag=true&apn=a&apn=b"


async def test_a_route_that_fails_before_answering_is_a_500_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def app(_scope: dict[str, Any], _receive: Any, _send: Any) -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, "sigcore.console"):
        answer = await ApiClient(app, 1).delete("/x")
        await asyncio.sleep(0)
    assert answer.status == 500 and not answer.ok and answer.message() == "the API answered 500"
    assert "RuntimeError: boom" in caplog.text


def test_field_errors_by_the_field_the_api_names() -> None:
    answer = ApiAnswer(422, {"detail": [{"loc": ["body", "imsi"], "msg": "bad", "type": "x"},
                                        {"loc": ["body", "apns", 0], "msg": "spaces", "type": "x"},
                                        {"loc": ["body"], "msg": "whole", "type": "x"}]})
    assert answer.field_errors() == {"imsi": "bad", "apns": "spaces", "": "whole"}
    assert ApiAnswer(409, {"detail": "taken"}).field_errors() == {"": "taken"}
    assert ApiAnswer(200, {}).field_errors() == {}


async def test_the_api_takes_the_session_token_by_id_live_and_with_its_role(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'api.sqlite'}"
    migrate(url)
    with Store(url, os.urandom(32)) as store:
        tokens = TokenRepository(store)
        reader = tokens.create(Role.READ, "reader").token
        app = create_app(store)
        as_reader = ApiClient(app, reader.id)
        assert (await as_reader.get("/apns")).status == 200
        refused = await as_reader.post("/apns", {"name": "internet"})
        assert refused.status == 403 and "role provision" in refused.message()
        assert (await ApiClient(app, reader.id + 1000).get("/apns")).status == 401  # no such token
        tokens.revoke(reader.id)
        assert (await as_reader.get("/apns")).status == 401
