"""Acme Greeting: a made-up vendor application for sigcore, loaded from outside the package.

sigcore.yaml:  applications: [acme_greeting]
               diameter: {dictionaries: [/path/to/acme.json]}
"""

from sigcore.applications import AppContext
from sigcore.diameter.aio import Node, RequestContext
from sigcore.diameter.application import Application, Rejected, answer
from sigcore.diameter.message import Message

ACME_APP, ACME_VENDOR = 16777999, 32473
app = Application(ACME_APP, vendor=ACME_VENDOR, name="Acme Greeting")


@app.handler("Acme-Greeting")  # the request's name in acme.json ("AGR" works too)
def greet(request: Message, ctx: RequestContext) -> Message:
    d = ctx.dictionary  # the node's dictionary: the built-in one with acme.json merged over it
    name = d.get_value(request.avps, "Acme-Name")  # mandatory by the CCF: the node checked it is there
    if name.lower() == "nobody":
        raise Rejected(5030, "we do not greet nobody")  # any Result-Code, or experimental=(vendor, code)
    return answer(request, ctx.node.identity, 2001, [d.build("Acme-Greeting", f"Hello, {name}!")])


def install(node: Node, ctx: AppContext) -> None:
    """Called once at start, before the node opens: register the handlers (advertised in CER/CEA)."""
    app.install(node)
