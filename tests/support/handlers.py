"""Call an application's handler in-process, with no node and no socket, and get what the node would send.

A handler answers success itself and refuses by raising `Rejected` (or any `DiameterError`); the node then
builds the error answer with the application's answer AVPs. `served` does the same, so a test reads one
answer either way, and sees exactly the AVPs a peer would.
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any

from sigcore.diameter import DICTIONARY
from sigcore.diameter.answers import Identity, error_answer
from sigcore.diameter.application import Application, resolve_command
from sigcore.diameter.errors import DiameterError
from sigcore.diameter.message import Message

HSS_IDENTITY = Identity("hss.localdomain", "localdomain")


def context(identity: Identity = HSS_IDENTITY, peer: str = "peer.localdomain") -> Any:
    """What a handler reads of its `RequestContext`: the node's identity and the requesting peer's name."""
    return SimpleNamespace(node=SimpleNamespace(identity=identity), peer=SimpleNamespace(name=peer))


async def served(app: Application, request: Message, ctx: Any = None) -> Message:
    """The answer `app` gives `request`: its handler's own, or the node's error answer for what it raised."""
    ctx = ctx if ctx is not None else context()
    handler = next((fn for command, fn in app.handlers.items()
                    if resolve_command(DICTIONARY, app.app_id, command) == request.code), None)
    if handler is None:
        raise LookupError(f"{app.name} has no handler for command {request.code}")
    try:
        answer = handler(request, ctx)
        if inspect.isawaitable(answer):
            answer = await answer
    except DiameterError as err:
        return error_answer(request, ctx.node.identity, err, tuple(app.answer_avps))
    assert isinstance(answer, Message)
    return answer
