"""The charging tests' engine, clock and POST receiver (imported by the tests and by conftest.py under a
name of their own: ``from conftest import`` found whichever area's conftest was imported first)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sigcore.charging.service import Charging, build_charging
from sigcore.config import ChargingConfig
from sigcore.store import Store
from support.keys import TEST_KEK


class Clock:
    """The engine's time: real time, or a fixed instant a test sets."""

    def __init__(self) -> None:
        self.fixed: dt.datetime | None = None

    def __call__(self) -> dt.datetime:
        return self.fixed or dt.datetime.now(dt.UTC)


class Engine:
    """A charging engine served from a background event loop; `call` speaks JSON-RPC over HTTP."""

    def __init__(self, url: str, cfg: ChargingConfig, clock: Clock) -> None:
        self.store = Store(url, TEST_KEK)
        self.clock = clock
        self.charging: Charging = build_charging(self.store, cfg, clock)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.charging.start(), self.loop).result(10)
        self.url = f"http://127.0.0.1:{self.charging.ports['http']}/jsonrpc"

    def post(self, payload: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(self.url, data=json.dumps(payload).encode(), method="POST",
                                         headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return reply.status, json.loads(reply.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def call(self, method: str, params: Any, request_id: Any = 1) -> Any:
        status, answer = self.post({"method": method, "params": [params], "id": request_id})
        assert status == 200
        return answer

    def ok(self, method: str, params: Any) -> Any:
        answer = self.call(method, params)
        assert answer["error"] is None, answer
        return answer["result"]

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.charging.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.store.close()


class Receiver:
    """A real HTTP server on loopback that records the bodies POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        self.arrived = threading.Event()
        bodies, arrived = self.bodies, self.arrived

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                bodies.append(json.loads(self.rfile.read(length)))
                arrived.set()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
