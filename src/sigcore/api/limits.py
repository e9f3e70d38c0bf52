"""HTTP limits of the API listener: request body size, read deadlines, and early close.

* `BodyLimit` (ASGI middleware): a request whose ``Content-Length`` is above the limit gets 413 before a
  byte of its body is read; a chunked body is counted while it streams and gets 413 once it passes the
  limit, before anything parses it. A UTF-16/32 body gets 422 (the API takes UTF-8 JSON only).
* `GuardedH11Protocol` (uvicorn's h11 protocol with deadlines): the request line and headers must arrive
  within ``header_timeout`` of the first byte (a slow-loris client is disconnected), a body that stops
  flowing for ``idle_timeout`` is dropped, and a connection whose request body we answered without reading
  (401, 403, 413) is closed rather than left draining the rest of the upload.

Connections idle between requests are closed by uvicorn's own keep-alive timeout, and the number of
requests served at once by its ``limit_concurrency`` (503 beyond), both set in `sigcore.api.service`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import h11
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("sigcore.api")

#: Seconds a server's stop waits for the responses in flight (the API's and the standalone metrics one's): a
#: client that stopped reading would otherwise hold `sigcore run`'s stop for ever.
SHUTDOWN_GRACE = 5


DEFAULT_MAX_BODY = 1024 * 1024


async def _refuse(send: Send, status: int, detail: Any) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


async def _too_large(send: Send, limit: int) -> None:
    await _refuse(send, 413, f"the request body is larger than {limit} bytes")


_NOT_UTF8 = [{"loc": ["body"], "msg": "the body must be UTF-8 (this looks like UTF-16 or UTF-32)",
              "type": "body_unreadable"}]


def _wide_encoding(chunk: bytes) -> bool:
    """UTF-16/32 JSON, which ``json.loads`` would decode although the API takes UTF-8 only (RFC 8259 §8.1):
    a byte-order mark or a NUL byte (UTF-8 JSON never holds a raw NUL)."""
    return chunk[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in chunk


class BodyLimit:
    """413 for a body above `limit` bytes: from ``Content-Length`` up front, else counted as it streams."""

    def __init__(self, app: ASGIApp, limit: int = DEFAULT_MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _too_large(send, self.limit)
            return
        seen = 0
        started = refused = False

        async def counted_receive() -> Message:
            # Answer 413 here, not by raising: frameworks turn an exception while reading into their own 400.
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                seen += len(chunk)
                if seen > self.limit or _wide_encoding(chunk):
                    refused = True
                    if not started:
                        await (_too_large(send, self.limit) if seen > self.limit else _refuse(send, 422, _NOT_UTF8))
                    return {"type": "http.disconnect"}  # the application stops reading and its answer is dropped
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted_receive, watched_send)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header deadline, a body idle deadline and early close (module doc)."""

    header_timeout = 10.0
    idle_timeout = 30.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._deadline: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm(self.header_timeout, "request headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            self._arm(self.idle_timeout, "the request body")  # any progress restarts it
        elif state is h11.IDLE:
            if self._deadline is None:  # the first bytes of the next request on a kept-alive connection
                self._arm(self.header_timeout, "request headers")
        else:
            self._disarm()  # the request is complete: the application has it

    def on_response_complete(self) -> None:
        if self.conn.their_state is h11.SEND_BODY:  # answered without reading the body: do not drain it
            self._disarm()
            self.transport.close()
            return
        super().on_response_complete()

    def _arm(self, seconds: float, waiting_for: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, waiting_for)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, waiting_for: str) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            log.debug("closing HTTP connection from %s: %s too slow", self.client, waiting_for)
            self.transport.close()


def guarded_protocol(header_timeout: float, idle_timeout: float) -> type[GuardedH11Protocol]:
    """The protocol class with these deadlines (uvicorn instantiates the class it is given)."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,),
                {"header_timeout": header_timeout, "idle_timeout": idle_timeout})
