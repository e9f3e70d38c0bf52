"""The console's only way to data: requests into the REST API app itself, in process, as the session's token.

Each call is an ASGI request to the same FastAPI app that serves ``/api/v1``: the bearer-token check, the
role check, validation, the audit log and the IDR/CLR notifications all happen exactly as for a client on
the wire, without a socket. The answer is returned as soon as its body is complete; background work the
route scheduled (an IDR to the serving MME) goes on after, as it does for an HTTP client.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlencode

from starlette.types import ASGIApp, Message

from sigcore.api.auth import CONSOLE_TOKEN

log = logging.getLogger("sigcore.console")
API_V1 = "/api/v1"
_pending: set[asyncio.Task[None]] = set()  # requests whose background tasks are still running


@dataclass(frozen=True, slots=True)
class ApiAnswer:
    status: int
    body: Any  # the decoded JSON, or None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def field_errors(self) -> dict[str, str]:
        """A 422's messages by field name (the last element of each ``loc``); others under ``""``."""
        if self.status != 422 or not isinstance(self.body, dict) or not isinstance(self.body.get("detail"), list):
            return {"": self.message()} if not self.ok else {}
        errors: dict[str, str] = {}
        for item in self.body["detail"]:
            loc = [str(p) for p in item.get("loc", ())]
            name = loc[1] if len(loc) > 1 and loc[0] in ("body", "query", "path") else ""
            errors.setdefault(name, str(item.get("msg", "invalid")))
        return errors

    def message(self) -> str:
        detail = self.body.get("detail") if isinstance(self.body, dict) else None
        if isinstance(detail, str):
            return detail
        if isinstance(detail, list) and detail:
            return "; ".join(f"{'.'.join(str(p) for p in d.get('loc', ())[1:])}: {d.get('msg')}" for d in detail)
        return f"the API answered {self.status}"


def _settle(task: asyncio.Task[None]) -> None:
    _pending.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("an API request made by the console failed", exc_info=task.exception())


class ApiClient:
    """Requests to `app` as API token `token_id` (the session's: the console never keeps a token's secret);
    `client` is the browser's address (for the API's log)."""

    def __init__(self, app: ASGIApp, token_id: int, client: tuple[str, int] | None = None) -> None:
        self.app, self.token_id, self.client = app, token_id, client

    async def get(self, path: str, **params: Any) -> ApiAnswer:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, body: Any = None) -> ApiAnswer:
        return await self.request("POST", path, body)

    async def patch(self, path: str, body: Any) -> ApiAnswer:
        return await self.request("PATCH", path, body)

    async def delete(self, path: str) -> ApiAnswer:
        return await self.request("DELETE", path)

    async def request(self, method: str, path: str, body: Any = None, *, params: dict[str, Any] | None = None,
                      content: bytes | None = None, content_type: str = "application/json") -> ApiAnswer:
        """`path` is below ``/api/v1`` with its segments already quoted (see `segment`)."""
        query = urlencode([(k, _text(v)) for k, v in (params or {}).items() if v is not None and v != ""],
                          doseq=True)
        payload = content if content is not None else (json.dumps(body).encode() if body is not None else b"")
        headers = [(b"accept", b"application/json")]
        if payload:
            headers += [(b"content-type", content_type.encode()), (b"content-length", str(len(payload)).encode())]
        status, raw = await self._call(method, API_V1 + path, query, headers, payload)
        try:
            decoded = json.loads(raw) if raw else None
        except ValueError:
            decoded = None
        return ApiAnswer(status, decoded)

    async def _call(self, method: str, raw_path: str, query: str, headers: list[tuple[bytes, bytes]],
                    payload: bytes) -> tuple[int, bytes]:
        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
                 "method": method, "scheme": "http", "path": unquote(raw_path), "raw_path": raw_path.encode(),
                 "root_path": "", "query_string": query.encode(), "headers": headers, "client": self.client,
                 "server": ("127.0.0.1", 0), "extensions": {CONSOLE_TOKEN: {"token_id": self.token_id}}}
        answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        status, sent = 500, False
        chunks: list[bytes] = []

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": payload, "more_body": False}
            await asyncio.shield(answered)
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))
                if not message.get("more_body", False) and not answered.done():
                    answered.set_result(None)

        async def run() -> None:
            await self.app(scope, receive, send)

        task = asyncio.create_task(run())
        _pending.add(task)
        task.add_done_callback(_settle)
        await asyncio.wait({task, answered}, return_when=asyncio.FIRST_COMPLETED)
        if not answered.done():  # the app ended without answering
            answered.set_result(None)
            return 500, b""
        return status, b"".join(chunks)


def segment(value: str) -> str:
    """One path segment, quoted (IMPUs hold ':' and '@', APN names may hold anything)."""
    return quote(value, safe="")


def _text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
