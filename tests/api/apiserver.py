"""A live API for tests: uvicorn on 127.0.0.1 with a random free port, in its own thread and event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx

from sigcore.api import create_app
from sigcore.api.service import ApiServer
from sigcore.applications import Services
from sigcore.store import Store
from sigcore.store.tokens import Role, TokenRepository

# Distinctive keys: the secrecy tests look for these (and their other spellings) in every output.
KI = "3C9A0F5E1D2B4A6C8E0F1A3B5C7D9E1F"
OPC = "A1B2C3D4E5F60718293A4B5C6D7E8F90"
OP = "0F1E2D3C4B5A69788796A5B4C3D2E1F0"
SECRETS = (KI, OPC, OP)


def secret_spellings() -> list[str]:
    return [form for key in SECRETS for form in (key, key.lower())]


class ThreadedApi:
    """`ApiServer` on a loop of its own, so that tests can talk to it with a plain (blocking) HTTP client."""

    def __init__(self, store: Store, services: Services | None = None) -> None:
        self.services = services if services is not None else Services()
        self.server = ApiServer(create_app(store, self.services), "127.0.0.1", 0)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="api-under-test", daemon=True)

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> None:
        self.thread.start()
        self.run(self.server.start())

    def stop(self) -> None:
        try:
            self.run(self.server.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


@dataclass
class LiveApi:
    """The running API with one token per role, and every response body it has sent to a test client."""

    url: str
    store: Store
    tokens: dict[Role, str]
    bodies: list[str] = field(default_factory=list)

    def client(self, role: Role | None = Role.ADMIN, token: str | None = None) -> httpx.Client:
        secret = token if token is not None else (self.tokens[role] if role is not None else None)
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30,
                            event_hooks={"response": [self._keep]})

    def _keep(self, response: httpx.Response) -> None:
        response.read()
        self.bodies.append(response.text)


def issue_tokens(store: Store) -> dict[Role, str]:
    repo = TokenRepository(store)
    return {role: repo.create(role, f"test-{role.value}").secret for role in Role}


class RecordingHss:
    """Stands in for the HSS notifier of `sigcore run`: remembers each IDR/CLR the API asks for."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[str, str]]:
        """The calls once there are `count` of them (notifications run after the answer is sent)."""
        deadline = time.monotonic() + timeout
        while len(self.calls) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.calls

    async def subscriber_changed(self, imsi: str) -> None:
        self.calls.append(("idr", imsi))

    async def cancel_location(self, imsi: str, reason: Any) -> None:
        self.calls.append(("clr", imsi))
