"""Diameter pieces Cx and Sh share: answers with their fixed AVPs, HSS-initiated requests, AVP reading."""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from functools import cache
from typing import Any

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.answers import Identity, answer
from sigcore.diameter.avp import Avp
from sigcore.diameter.constants import ResultCode
from sigcore.diameter.errors import DiameterError
from sigcore.diameter.message import Message
from sigcore.hss.ims.codes import VENDOR

NO_STATE_MAINTAINED = 1
_session_counter = itertools.count(1)
#: What an answer is made of: built AVPs (cached ones) or (name, value) pairs encoded straight to bytes.
AnswerAvp = Avp | tuple[str, Any]


@cache
def application_avps(app_id: int) -> tuple[Avp, ...]:
    """Vendor-Specific-Application-Id and Auth-Session-State NO_STATE_MAINTAINED (TS 29.229 §6.1, 29.329).

    The same in every answer of an application: built once (an `Avp` is immutable, its wire form cached)."""
    return (D.build("Vendor-Specific-Application-Id", [("Vendor-Id", VENDOR), ("Auth-Application-Id", app_id)]),
            D.build("Auth-Session-State", NO_STATE_MAINTAINED))


@cache
def _result_avp(result: int) -> Avp:
    return D.build("Result-Code", result)


@cache
def _experimental_avp(experimental: int) -> Avp:
    return D.build("Experimental-Result", [("Vendor-Id", VENDOR), ("Experimental-Result-Code", experimental)])


def reply(req: Message, identity: Identity, avps: Sequence[AnswerAvp], *, result: int | None = None,
          experimental: int | None = None) -> Message:
    """An answer with the application AVPs first, then ``avps``; 2001 unless told otherwise.

    The result AVP is one of a few prebuilt ones, placed where `answer` puts it (after ``avps``)."""
    outcome = _experimental_avp(experimental) if experimental is not None else _result_avp(
        result or ResultCode.SUCCESS)
    return answer(req, identity, None, [*application_avps(req.app_id), *avps, outcome])


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


def _missing(name: str) -> DiameterError:
    return DiameterError(ResultCode.MISSING_AVP, f"{name} missing", failed_avps=[D.avp(name).example()])


def required(req: Message, name: str) -> Any:
    value = req.get(name)
    if value is None:
        raise _missing(name)
    return value


@cache
def _wanted(names: tuple[str, ...]) -> dict[tuple[int, int], str]:
    return D.keys_of(names)


def first_values(req: Message, names: tuple[str, ...], repeated: tuple[str, ...] = ()) -> dict[str, Any]:
    """The first value of each AVP of ``names`` that ``req`` carries at its top level (every value, as a
    list, for those of ``repeated``), from one pass over its AVPs (``Dictionary.pick``)."""
    found = D.pick(req.avps, _wanted(names + repeated), repeated)
    for name, avp in found.items():
        found[name] = [D.value(a) for a in avp] if name in repeated else D.value(avp)
    return found


def need(found: dict[str, Any], name: str) -> Any:
    """``found[name]`` (see `first_values`), or the 5005 DIAMETER_MISSING_AVP that `required` raises."""
    value = found.get(name)
    if value is None:
        raise _missing(name)
    return value


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes | bytearray) else str(value)
