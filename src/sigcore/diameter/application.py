"""The application contract: how a Diameter application (S6a, Cx, a vendor's own...) plugs into a node.

An application is a set of handlers named by command, registered on a node under one Application-Id; it
refuses a request by raising `Rejected` (a Result-Code or an Experimental-Result), builds its answers with
`answer`, and names new sessions with `new_session_id`. One contract for all of them, so the node's error
answers, the CER/CEA advertisement and the per-application AVPs every answer must carry are handled once.

Stack-level: nothing here knows about a store or a particular interface.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sigcore.diameter.answers import Identity, answer, error_answer, result_of
from sigcore.diameter.constants import VENDOR_3GPP, ResultCode
from sigcore.diameter.dictionary import Dictionary
from sigcore.diameter.errors import DiameterError

if TYPE_CHECKING:
    from sigcore.diameter.aio.node import Handler, Node
    from sigcore.diameter.avp import Avp

H = TypeVar("H", bound="Handler")

#: Auth-Session-State NO_STATE_MAINTAINED (RFC 6733 §8.11): what every stateless request/answer application
#: (S6a, Cx, Sh, SLh, S13) puts in its messages.
NO_STATE_MAINTAINED = 1


class Rejected(DiameterError):
    """Refuse the request: answer it with ``result_code`` or, given ``experimental=(vendor, code)``, with that
    Experimental-Result (``experimental_3gpp(code)`` for vendor 10415). ``failed_avps`` become Failed-AVP,
    ``message`` the Error-Message, ``avps`` go into the answer too. A Result-Code 3xxx sets the E-bit.

    Raise it from a handler (the node builds the answer) or turn it into an answer with `reject_answer`.
    """

    def __init__(self, result_code: int | None = None, message: str = "", *,
                 experimental: tuple[int, int] | None = None, failed_avps: list[Avp] | None = None,
                 avps: Sequence[Any] = ()) -> None:
        if (result_code is None) == (experimental is None):
            raise ValueError("Rejected takes a result_code or an experimental (vendor, code), not both")
        code = result_code if result_code is not None else experimental[1]  # type: ignore[index]
        super().__init__(code, message, failed_avps)
        self.experimental = experimental
        self.answer_avps = tuple(avps)


def experimental_3gpp(code: int, message: str = "", **kwargs: Any) -> Rejected:
    """`Rejected` with a 3GPP (vendor 10415) Experimental-Result-Code, e.g. 5001 DIAMETER_ERROR_USER_UNKNOWN."""
    return Rejected(None, message, experimental=(VENDOR_3GPP, code), **kwargs)


def reject_answer(request: Any, identity: Identity, err: DiameterError) -> Any:
    """The answer for ``err`` (E-bit for protocol errors, Experimental-Result if set). The same function the
    node uses for errors it detects itself."""
    return error_answer(request, identity, err)


# --- Session-Id (RFC 6733 §8.8) -------------------------------------------------------------------------

class SessionIds:
    """``<DiameterIdentity>;<high 32 bits>;<low 32 bits>[;<optional value>]``: the high part starts at the
    boot time (so a restart does not reuse ids), the low part counts, carrying into the high part when it
    wraps. Thread-safe (the counter is one ``next`` on an ``itertools.count``)."""

    def __init__(self, origin_host: str, boot: int | None = None) -> None:
        self.origin_host = origin_host
        self._high = (boot if boot is not None else int(time.time())) & 0xFFFFFFFF
        self._count = itertools.count(1)

    def __call__(self, optional: str | None = None) -> str:
        n = next(self._count)
        high = (self._high + (n >> 32)) & 0xFFFFFFFF
        sid = f"{self.origin_host};{high};{n & 0xFFFFFFFF}"
        return f"{sid};{optional}" if optional else sid


_generators: dict[str, SessionIds] = {}
_generators_lock = threading.Lock()


def new_session_id(origin_host: str, optional: str | None = None) -> str:
    """A new Session-Id for ``origin_host``, unique for this process's lifetime and across restarts."""
    gen = _generators.get(origin_host)
    if gen is None:
        with _generators_lock:
            gen = _generators.setdefault(origin_host, SessionIds(origin_host))
    return gen(optional)


# --- registration -----------------------------------------------------------------------------------------

def resolve_command(dictionary: Dictionary, app_id: int, command: str | int) -> int:
    """The command code of ``command``: an int as is, else a name from the dictionary — the request's full
    name ("Authentication-Information-Request"), without "-Request", or its short name ("AIR"). It must
    belong to ``app_id`` (or be a base command, e.g. RAR under any application)."""
    if isinstance(command, int):
        return command
    for name in (command, f"{command}-Request"):
        c = dictionary.command_names.get(name)
        if c is not None and c.request:
            if c.application not in (app_id, 0):
                raise ValueError(f"command {command!r} belongs to application {c.application}, not {app_id}")
            return c.code
    raise ValueError(f"no request command named {command!r} in the dictionary")


@dataclass
class Application:
    """One Diameter application's handlers, installed on a node together.

    ``app.handler("Authentication-Information")`` (or ``"AIR"``) decorates a handler
    ``(request, ctx: RequestContext) -> answer`` (plain or ``async``); ``app.add(command, handler)`` does the
    same without a decorator. ``install(node)`` registers them all (names resolved through the node's
    dictionary) and advertises the application with ``vendor`` in CER/CEA. ``answer_avps`` are added to every
    error answer the node builds for this application (e.g. Vendor-Specific-Application-Id and
    Auth-Session-State, which the ABNF of S6a/Cx/SLh/S13 answers require even on failure).
    """

    app_id: int
    vendor: int = 0
    name: str = ""
    answer_avps: Sequence[Any] = ()
    handlers: dict[str | int, Handler] = field(default_factory=dict)

    def handler(self, command: str | int) -> Callable[[H], H]:
        def register(fn: H) -> H:
            self.handlers[command] = fn
            return fn

        return register

    def add(self, command: str | int, handler: Handler) -> None:
        self.handlers[command] = handler

    def install(self, node: Node) -> None:
        for command, fn in self.handlers.items():
            node.register(self.app_id, command, fn, self.vendor)
        if self.answer_avps:
            node.error_avps[self.app_id] = tuple(self.answer_avps)
        if not self.handlers:
            node.advertise(self.app_id, self.vendor)


__all__ = ["NO_STATE_MAINTAINED", "Application", "Identity", "Rejected", "ResultCode", "SessionIds", "answer",
           "experimental_3gpp", "new_session_id", "reject_answer", "resolve_command", "result_of"]
