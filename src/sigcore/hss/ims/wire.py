"""Diameter pieces Cx and Sh share: answers with their fixed AVPs, HSS-initiated requests, worker threads."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.answers import Identity, answer
from sigcore.diameter.avp import Avp
from sigcore.diameter.constants import ResultCode
from sigcore.diameter.errors import DiameterError
from sigcore.diameter.message import Message
from sigcore.hss.ims.codes import VENDOR

NO_STATE_MAINTAINED = 1
T = TypeVar("T")
_session_counter = itertools.count(1)


def application_avps(app_id: int) -> list[Avp]:
    """Vendor-Specific-Application-Id and Auth-Session-State NO_STATE_MAINTAINED (TS 29.229 §6.1, 29.329)."""
    return [D.build("Vendor-Specific-Application-Id", [("Vendor-Id", VENDOR), ("Auth-Application-Id", app_id)]),
            D.build("Auth-Session-State", NO_STATE_MAINTAINED)]


def reply(req: Message, identity: Identity, avps: list[Avp], *, result: int | None = None,
          experimental: int | None = None) -> Message:
    """An answer with the application AVPs first, then ``avps``; 2001 unless told otherwise."""
    if experimental is not None:
        return answer(req, identity, None, application_avps(req.app_id) + avps, experimental=(VENDOR, experimental))
    return answer(req, identity, result or ResultCode.SUCCESS, application_avps(req.app_id) + avps)


def new_request(identity: Identity, app_id: int, code: int, destination_host: str, destination_realm: str,
                avps: list[tuple[str, Any]]) -> Message:
    """An HSS-initiated request (RTR, PPR, PNR) to one named peer."""
    session = f"{identity.origin_host};{int(time.time())};{next(_session_counter)}"
    head: list[tuple[str, Any]] = [
        ("Session-Id", session),
        ("Vendor-Specific-Application-Id", [("Vendor-Id", VENDOR), ("Auth-Application-Id", app_id)]),
        ("Auth-Session-State", NO_STATE_MAINTAINED),
        ("Origin-Host", identity.origin_host),
        ("Origin-Realm", identity.origin_realm),
        ("Destination-Host", destination_host),
        ("Destination-Realm", destination_realm),
    ]
    return Message(code, app_id, 0xC0, 0, 0, D.build_many(head + avps))


def required(req: Message, name: str) -> Any:
    value = req.get(name)
    if value is None:
        avp = D.avp(name).example()
        raise DiameterError(ResultCode.MISSING_AVP, f"{name} missing", failed_avps=[avp])
    return value


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes | bytearray) else str(value)


class Worker:
    """Runs the store's blocking calls off the event loop (one small pool per interface)."""

    def __init__(self, threads: int = 8, name: str = "ims") -> None:
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix=name)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
