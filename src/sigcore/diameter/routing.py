"""Routing decisions for a request that reached this node (RFC 6733 §6.1), sans-IO: the local delivery
checks, and the hooks through which applications (a DRA) decide local delivery, change relayed messages and
choose the next hop.

Before a request is handed to an application handler it must be meant for us and be something we
serve; each refusal maps to the Result-Code the RFC prescribes.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from struct import Struct
from typing import Any, Final

from sigcore.diameter.constants import FLAG_ERROR, FLAG_REQUEST, ResultCode
from sigcore.diameter.dictionary import DICTIONARY
from sigcore.diameter.errors import DiameterError
from sigcore.diameter.message import Header, Message, peek_header

_D = DICTIONARY
# RFC 6733 base AVPs (vendor 0): 293 and 283
_DEST_HOST_CODE, _DEST_REALM_CODE = _D.avp("Destination-Host").code, _D.avp("Destination-Realm").code

Handler = Callable[..., Any]
_LENGTH: Final = Struct(">I")


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


# --- routing hooks (freeDiameter-style) --------------------------------------------------------------------

#: Out-routing scores (freeDiameter's values): candidates with a score above 0 are tried, highest first.
SCORE_NO_DELIVERY = -70
SCORE_REALM = 10  # the peer's realm is the Destination-Realm and it serves the application
SCORE_FINALDEST = 100  # the peer is the Destination-Host
SCORE_NAMED = 1000  # a next-hops hook named the peer: above the realm rule (the last named gets this + 1)


class InTransit:
    """A message the node forwards or is about to decide on: its bytes (``buf``, a bytearray a hook may
    change in place, then call `resized`, or replace with `replace`), the peer it came from, and for a
    request its routing facts. ``message()`` decodes it (with the node's dictionary) only when a hook
    asks; decoding is not needed to forward it."""

    __slots__ = ("_message", "buf", "from_peer", "routing", "tag")

    def __init__(self, buf: bytearray, from_peer: Any, routing: Any = None, tag: Any = None) -> None:
        self.buf = buf
        self.from_peer = from_peer
        self.routing = routing
        #: Anything a hook wants to remember about this request (e.g. the route that chose the peer); the
        #: answer's InTransit and the observers' events carry the request's tag
        self.tag = tag
        self._message: Message | None = None

    @property
    def header(self) -> Header:
        return peek_header(self.buf)

    @property
    def is_request(self) -> bool:
        return bool(self.buf[4] & FLAG_REQUEST)

    def message(self) -> Message:
        """The message decoded (top-level AVP list; values on demand). Change it and call `replace` to
        forward the change."""
        if self._message is None:
            self._message = Message.decode(bytes(self.buf))
        return self._message

    def replace(self, msg: Message) -> None:
        """Forward ``msg`` instead (its header ids are kept from the bytes in transit)."""
        hbh, e2e = peek_header(self.buf)[5:7]
        msg.hop_by_hop, msg.end_to_end = hbh, e2e
        self.buf = bytearray(msg.encode())
        self._message = msg

    def resized(self) -> None:
        """Fix the length field after ``buf`` was changed in place."""
        _LENGTH.pack_into(self.buf, 0, 0x01000000 | len(self.buf))


#: True: deliver to a local handler; False: forward; None: no opinion (the next hook, then the default rule)
LocalDeliveryHook = Callable[[InTransit], "bool | None"]
#: Sees (and may change) every relayed request and answer; may raise DiameterError (e.g. `Rejected`) on a
#: request to answer it locally instead (3006 with Redirect-Host is such an answer)
ForwardHook = Callable[[InTransit], None]
#: Scores candidate peers for a forwarded request: ``scores[peer]`` may be raised, lowered or set to
#: `SCORE_NO_DELIVERY`; may raise DiameterError to answer locally
OutRoutingHook = Callable[[InTransit, "dict[Any, int]"], None]


#: Names the next hops of a forwarded request, best first (a route table's decision), or None for no opinion
#: (the realm rule and the out-routing hooks decide). Nothing is scored per known peer: a node with
#: thousands of peers pays for the names given, not for every peer it knows
NextHopsHook = Callable[[InTransit], "Sequence[str] | None"]


#: Told what became of each forwarded request: (event, the request in transit, the peer concerned or None,
#: the Result-Code or None, seconds since it was first forwarded or None). Events: "sent" (to ``peer``),
#: "answered" (by ``peer``, with its Result-Code if any, passed back), "failover" (``peer`` failed: lost
#: connection or answer 3002/3004, the next candidate is tried), "timeout" (``peer`` did not answer in
#: ``request_timeout``, the next candidate is tried), "looped" (3005), "realm_not_served" (3003),
#: "unable_to_deliver" (3002: no candidate open, or none left), "rejected" (a hook answered it locally).
RelayObserver = Callable[[str, InTransit, Any, "int | None", "float | None"], None]


class RoutingHooks:
    """The node's routing callbacks. Empty lists cost nothing on the message path. Registering an
    out-routing or next-hops callback turns forwarding on (``forwarding``), as ``NodeSettings.relay`` does.

    Order for a request from a peer: local_delivery hooks (the first that is not None decides), then, if it
    is forwarded: the loop check (3005), forward_request hooks, next_hops hooks (the first that is not None
    names the candidates, in order, instead of the realm rule), out_routing hooks; what the last of them
    leaves in ``InTransit.buf`` is what is sent. After the forward_request hooks the node reads the routing
    facts (``InTransit.routing``) again if ``buf`` changed, unless a hook set ``routing`` to a new object (the
    facts of what it left in ``buf``). For its answer: forward_answer hooks, then it is sent back."""

    def __init__(self) -> None:
        self.local_delivery: list[LocalDeliveryHook] = []
        self.forward_request: list[ForwardHook] = []
        self.forward_answer: list[ForwardHook] = []
        self.out_routing: list[OutRoutingHook] = []
        self.next_hops: list[NextHopsHook] = []
        self.observers: list[RelayObserver] = []
        self.forwarding = False

    def add_observer(self, observer: RelayObserver) -> None:
        self.observers.append(observer)

    def add_local_delivery(self, hook: LocalDeliveryHook) -> None:
        self.local_delivery.append(hook)

    def add_forward(self, hook: ForwardHook, *, requests: bool = True, answers: bool = True) -> None:
        if requests:
            self.forward_request.append(hook)
        if answers:
            self.forward_answer.append(hook)

    def add_out_routing(self, hook: OutRoutingHook) -> None:
        self.out_routing.append(hook)
        self.forwarding = True

    def add_next_hops(self, hook: NextHopsHook) -> None:
        self.next_hops.append(hook)
        self.forwarding = True
