"""Local delivery checks for a request that reached this node (RFC 6733 §6.1), sans-IO.

Before a request is handed to an application handler it must be meant for us and be something we
serve; each refusal maps to the Result-Code the RFC prescribes.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from typing import Any

from sigcore.diameter.constants import FLAG_ERROR, ResultCode
from sigcore.diameter.dictionary import DICTIONARY
from sigcore.diameter.errors import DiameterError
from sigcore.diameter.message import Message

_D = DICTIONARY
# RFC 6733 base AVPs (vendor 0): 293 and 283
_DEST_HOST_CODE, _DEST_REALM_CODE = _D.avp("Destination-Host").code, _D.avp("Destination-Realm").code

Handler = Callable[..., Any]


def check_local_delivery(msg: Message, origin_host: str, origin_realm: str,
                         applications: Container[int], handlers: dict[tuple[int, int], Handler]) -> Handler:
    """Return the handler for ``msg`` or raise DiameterError with 3008/3002/3003/3007/3001.

    The P-bit plays no part: whether a request may be proxied says nothing about whether we serve it.
    """
    if msg.flags & FLAG_ERROR:
        raise DiameterError(ResultCode.INVALID_HDR_BITS, "E-bit set in a request")
    for a in msg.avps:  # every request passes here: compare the code (an int) before anything else
        code = a.code
        if (code != _DEST_HOST_CODE and code != _DEST_REALM_CODE) or a.vendor:
            continue
        name = bytes(a.data).decode("ascii", "replace")
        if code == _DEST_HOST_CODE:
            if name.lower() != origin_host.lower():
                raise DiameterError(ResultCode.UNABLE_TO_DELIVER, f"Destination-Host {name} is not this node")
        elif name.lower() != origin_realm.lower():
            raise DiameterError(ResultCode.REALM_NOT_SERVED, f"realm {name} is not served here")
    if msg.app_id not in applications:
        raise DiameterError(ResultCode.APPLICATION_UNSUPPORTED, f"application {msg.app_id} is not supported")
    handler = handlers.get((msg.app_id, msg.code))
    if handler is None:
        raise DiameterError(ResultCode.COMMAND_UNSUPPORTED,
                            f"command {msg.code} is not supported in application {msg.app_id}")
    return handler
