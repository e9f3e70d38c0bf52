"""The asyncio adapter: sockets and timers around the sans-IO codec and peer state machine."""

from sigcore.diameter.aio.node import Node, NodeSettings, RequestContext

__all__ = ["Node", "NodeSettings", "RequestContext"]
