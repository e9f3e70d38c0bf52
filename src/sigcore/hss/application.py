"""What the HSS's interfaces (S6a, Cx, Sh, SLh, S13) share on top of the stack's application contract
(`sigcore.diameter.application`): the AVPs of their stateless answers and the requests the HSS originates.

Every interface follows the same contract: an ``install(node, ctx)`` in its ``install`` module, a handler
per command (named by it: ``air``, ``uar``, ``udr``, ``rir``, ``ecr``...) registered through an
`Application`, refusals raised as `Rejected` (``experimental_3gpp(code, why)`` for a 3GPP
Experimental-Result), answers built with `answer`, Session-Ids from `new_session_id`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.aio import Node
from sigcore.diameter.answers import Identity, request
from sigcore.diameter.application import NO_STATE_MAINTAINED, Application, new_session_id
from sigcore.diameter.avp import Avp
from sigcore.diameter.constants import VENDOR_3GPP
from sigcore.diameter.errors import DiameterError
from sigcore.diameter.message import Message
from sigcore.workers.relay import NotHeld

AUTH_SESSION_STATE = D.build("Auth-Session-State", NO_STATE_MAINTAINED)
"""``{ Auth-Session-State }`` NO_STATE_MAINTAINED: mandatory in every answer of the HSS's commands, errors
included (TS 29.272 §7.2, TS 29.229 §6.1, TS 29.329 §6.1, TS 29.173 §6.2)."""


@cache
def application_avps(app_id: int) -> tuple[Avp, ...]:
    """Vendor-Specific-Application-Id (3GPP, `app_id`) and Auth-Session-State, as S6a, Cx and Sh put them in
    every message. Built once per application: an `Avp` is immutable and caches its wire form."""
    return (D.build("Vendor-Specific-Application-Id", [("Vendor-Id", VENDOR_3GPP), ("Auth-Application-Id", app_id)]),
            AUTH_SESSION_STATE)


def hss_application(app_id: int, name: str, *, vendor_specific_id: bool = True) -> Application:
    """An `Application` of vendor 3GPP whose error answers carry `application_avps` (S6a, Cx, Sh) or, without
    `vendor_specific_id`, Auth-Session-State alone (SLh and S13, whose answers do not name the application)."""
    avps = application_avps(app_id) if vendor_specific_id else (AUTH_SESSION_STATE,)
    return Application(app_id, VENDOR_3GPP, name, avps)


def hss_request(identity: Identity, app_id: int, command: int, destination_host: str,
                destination_realm: str | None, avps: list[tuple[str, Any]]) -> Message:
    """An HSS-initiated request to one named peer: CLR, IDR, DSR (S6a), RTR, PPR (Cx), PNR (Sh). Without a
    realm, the host's domain (else ours) is the Destination-Realm."""
    realm = destination_realm or destination_host.partition(".")[2] or identity.origin_realm
    head = [D.build("Session-Id", new_session_id(identity.origin_host)), *application_avps(app_id),
            *identity.origin_avps]
    return request(command, app_id, head + D.build_many([("Destination-Host", destination_host),
                                                          ("Destination-Realm", realm), *avps]))


async def request_to_host(node: Node, msg: Message, host: str) -> Message:
    """Send an HSS-initiated request to the peer that holds the state (`host`, its Destination-Host: the
    S-CSCF of a registration, the AS of a subscription) over whichever worker's connection reaches it
    (`Node.fallback`, `sigcore.workers.relay`); by realm only when no process has it as an open peer (it
    sits behind a DRA). Never to another peer of the realm picked first because its connection landed on
    this worker. Raises DiameterError / ConnectionError / TimeoutError when it cannot be delivered."""
    try:
        return await node.request(msg, peer=host)
    except (DiameterError, NotHeld):  # not a direct peer of any worker now: route by Destination-Realm
        return await node.request(msg)
