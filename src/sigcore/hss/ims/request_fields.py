"""Reading a Cx or Sh request's AVPs: the first value of each wanted one in one pass, 5005 for a missing one."""

from __future__ import annotations

from functools import cache
from typing import Any

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.constants import ResultCode
from sigcore.diameter.errors import DiameterError
from sigcore.diameter.message import Message
from sigcore.store.ims_models import URI_LEN


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


def bounded(name: str, value: Any, limit: int = URI_LEN) -> str:
    """``value`` as text when the IMS store's columns can keep it (`URI_LEN` characters: S-CSCF names,
    Service-Indications), else 5004 with it as Failed-AVP: SQLite would keep it, PostgreSQL and MariaDB
    would fail the transaction (5012)."""
    found = text(value)
    if len(found) > limit:
        raise DiameterError(ResultCode.INVALID_AVP_VALUE, f"{name} longer than {limit} characters",
                            failed_avps=[D.build(name, value)])
    return found
