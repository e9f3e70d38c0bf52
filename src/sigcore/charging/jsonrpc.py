"""JSON-RPC transports of the charging API: HTTP POST ``/jsonrpc`` and raw TCP (Go's net/rpc jsonrpc codec:
a stream of JSON objects, each answered by one JSON object).

The protocol is CGrateS's: ``{"method", "params": [obj], "id"}`` in, ``{"id", "result", "error"}`` out, HTTP
status 200 even for errors. Calls run in a worker thread (they block on the database), so the event loop
keeps serving Diameter. With ``charging.auth`` on, HTTP requests need the REST API's bearer token (a
read-only token may call only Get* and CoreSv1 methods); the raw TCP transport has no headers, so it is
refused configuration-wise when auth is on (see `sigcore.charging.service`).
"""

from __future__ import annotations

import asyncio
import codecs
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sigcore.charging.api import ChargingApi
from sigcore.charging.errors import RpcError

log = logging.getLogger("sigcore.charging.jsonrpc")
MAX_BODY = 4 * 1024 * 1024
#: Seconds for a request's head to arrive, from the connection or the previous answer (an idle keep-alive
#: connection is closed then), and for its body after the head: slow or stalled clients cannot pile up.
HEAD_TIMEOUT = 60.0
BODY_TIMEOUT = 30.0
#: (bearer secret, method) -> None when allowed, else (HTTP status, why): 401 no valid token, 403 role too low
Authenticator = Callable[[str | None, str], tuple[int, str] | None]


class JsonRpcDispatcher:
    def __init__(self, api: ChargingApi, workers: int = 4) -> None:
        self.api = api
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="charging-rpc")

    def handle_sync(self, request: Any) -> dict[str, Any]:
        if not isinstance(request, dict):
            return {"id": None, "result": None, "error": "jsonrpc: request is not an object"}
        req_id = request.get("id")
        params = request.get("params")
        name = request.get("method")
        if not isinstance(name, str):
            return {"id": req_id, "result": None, "error": "rpc: service/method request ill-formed: "}
        if not isinstance(params, list) or not params:
            return {"id": req_id, "result": None, "error": "jsonrpc: request body missing params"}
        try:
            return {"id": req_id, "result": self.api.call(name, params[0]), "error": None}
        except RpcError as err:
            return {"id": req_id, "result": None, "error": str(err)}
        except Exception:
            log.exception("JSON-RPC %s failed", name)
            return {"id": req_id, "result": None, "error": "SERVER_ERROR"}

    async def handle(self, request: Any) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, self.handle_sync, request)

    def close(self) -> None:
        self.pool.shutdown(wait=False)


#: A request nested past the interpreter's recursion limit (json raises RecursionError, not ValueError)
TOO_DEEP = "jsonrpc: cannot decode request: nested too deeply"


def _parse(body: bytes) -> tuple[Any, str | None]:
    try:
        return json.loads(body), None
    except RecursionError:
        return None, TOO_DEEP
    except (ValueError, UnicodeDecodeError) as err:
        return None, f"jsonrpc: cannot decode request: {err.__class__.__name__}"


def encode(answer: Any) -> bytes:
    """An answer's JSON. The id is echoed as it came: one that decoded just under the recursion limit may
    not encode under it (the encoder runs deeper in the stack), and is answered without it."""
    try:
        return json.dumps(answer).encode()
    except RecursionError:
        return json.dumps({"id": None, "result": None, "error": "jsonrpc: request id nested too deeply"}).encode()


class HttpJsonRpc:
    """A small HTTP/1.1 server: keep-alive, POST /jsonrpc with Content-Length, nothing else."""

    def __init__(self, dispatcher: JsonRpcDispatcher, authenticate: Authenticator | None = None) -> None:
        self.dispatcher = dispatcher
        self.authenticate = authenticate

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        try:  # a connection that never completes a request must not hold its socket for ever
            async with asyncio.timeout(HEAD_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
        except TimeoutError:
            return False
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            await self._reply(writer, 400, {"error": "bad request line"}, close=True)
            return False
        verb, path, proto = parts
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        keep = headers.get("connection", "").lower() != "close" and proto == "HTTP/1.1"
        if "chunked" in headers.get("transfer-encoding", "").lower():
            await self._reply(writer, 411, {"error": "a Content-Length is required"}, close=True)
            return False
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            await self._reply(writer, 413 if length > 0 else 400, {"error": "bad Content-Length"}, close=True)
            return False
        try:
            async with asyncio.timeout(BODY_TIMEOUT):
                body = await reader.readexactly(length) if length else b""
        except TimeoutError:
            await self._reply(writer, 408, {"error": f"the body did not arrive within {BODY_TIMEOUT:g} s"}, close=True)
            return False
        if path.split("?")[0] != "/jsonrpc":
            await self._reply(writer, 404, {"error": f"no such path {path}; JSON-RPC is at /jsonrpc"}, not keep)
            return keep
        if verb != "POST":
            await self._reply(writer, 405, {"error": "JSON-RPC takes POST"}, not keep, allow="POST")
            return keep
        request, problem = _parse(body)
        if problem is not None:
            await self._reply(writer, 200, {"id": None, "result": None, "error": problem}, not keep)
            return keep
        if self.authenticate is not None:
            scheme, _, secret = headers.get("authorization", "").partition(" ")
            method = request.get("method", "") if isinstance(request, dict) else ""
            bearer = secret.strip() if scheme.lower() == "bearer" and secret.strip() else None
            refused = await asyncio.get_running_loop().run_in_executor(
                self.dispatcher.pool, self.authenticate, bearer, str(method))
            if refused is not None:
                status, why = refused
                challenge = {"www_authenticate": 'Bearer realm="sigcore"'} if status == 401 else {}
                await self._reply(writer, status, {"error": why}, not keep, **challenge)
                return keep
        answer = await self.dispatcher.handle(request)
        await self._reply(writer, 200, answer, not keep)
        return keep

    @staticmethod
    async def _reply(writer: asyncio.StreamWriter, status: int, payload: Any, close: bool, **extra: str) -> None:
        body = encode(payload)
        reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                  405: "Method Not Allowed", 408: "Request Timeout", 411: "Length Required",
                  413: "Payload Too Large"}[status]
        head = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json",
                f"Content-Length: {len(body)}"]
        head += [f"{k.replace('_', '-').title()}: {v}" for k, v in extra.items()]
        if close:
            head.append("Connection: close")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()


class TcpJsonRpc:
    """Go's jsonrpc codec over a plain TCP stream: concatenated JSON objects, answers in order."""

    def __init__(self, dispatcher: JsonRpcDispatcher) -> None:
        self.dispatcher = dispatcher
        self._decoder = json.JSONDecoder()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buffer = ""
        # incremental: a character whose bytes two reads split must not become two replacement characters
        utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                buffer += utf8.decode(chunk)
                if len(buffer) > MAX_BODY:
                    answer = {"id": None, "result": None,
                              "error": f"jsonrpc: request larger than {MAX_BODY} characters"}
                    writer.write(encode(answer) + b"\n")
                    await writer.drain()
                    return
                while buffer.strip():
                    buffer = buffer.lstrip()
                    if buffer[0] != "{":  # not a JSON object, and never will be: say so and hang up
                        answer = {"id": None, "result": None, "error": "jsonrpc: request is not a JSON object"}
                        writer.write(encode(answer) + b"\n")
                        await writer.drain()
                        return
                    try:
                        request, end = self._decoder.raw_decode(buffer)
                    except RecursionError:  # where it ends cannot be told: say so and hang up
                        writer.write(encode({"id": None, "result": None, "error": TOO_DEEP}) + b"\n")
                        await writer.drain()
                        return
                    except ValueError:
                        break  # incomplete: wait for more
                    buffer = buffer[end:]
                    answer = await self.dispatcher.handle(request)
                    writer.write(encode(answer) + b"\n")
                    await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
