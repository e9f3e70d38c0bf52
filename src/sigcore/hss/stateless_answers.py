"""Answers of the stateless request/answer applications the HSS serves (SLh, S13): every answer, error
or not, carries the mandatory ``{ Auth-Session-State }`` of its command's ABNF (TS 29.173 §6.2.4,
TS 29.272 §7.2.20), which the node's generic error answer does not add."""

from __future__ import annotations

from collections.abc import Sequence

from sigcore.diameter import DICTIONARY
from sigcore.diameter.answers import VENDOR_3GPP, Identity, answer
from sigcore.diameter.avp import Avp
from sigcore.diameter.constants import ResultCode
from sigcore.diameter.message import Message

NO_STATE_MAINTAINED = 1


def stateless_answer(request: Message, identity: Identity, *, result_code: int | None = None,
                     experimental: int | None = None, avps: Sequence[Avp] = (),
                     error_message: str | None = None, failed_avps: list[Avp] | None = None) -> Message:
    """An answer with Result-Code or a 3GPP Experimental-Result-Code, and Auth-Session-State echoed."""
    state = request.get("Auth-Session-State", NO_STATE_MAINTAINED)
    body = [*avps, DICTIONARY.build("Auth-Session-State", state)]
    if result_code is None and experimental is None:
        result_code = ResultCode.SUCCESS
    return answer(request, identity, result_code, body,
                  experimental=(VENDOR_3GPP, experimental) if experimental is not None else None,
                  error_message=error_message, failed_avps=failed_avps)
