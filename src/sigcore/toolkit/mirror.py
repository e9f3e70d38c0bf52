"""Mirror every Diameter message the node sends or receives to a TZSP collector (``diameter.mirror``).

No root and no capture: the node hands each frame to ``TzspMirror``, which wraps it in a synthetic
TCP/IP packet inside TZSP over UDP, so a remote Wireshark sees the Diameter dialogue as if sniffed.
"""

from __future__ import annotations

import logging

from sigcore.applications import AppContext
from sigcore.config import split_host_port
from sigcore.diameter.aio import Node
from sigcore.diameter.aio.connection import Connection
from sigcore.toolkit.tzsp import TZSP_PORT, TzspMirror

log = logging.getLogger("sigcore.mirror")


def attach(node: Node, mirror: TzspMirror) -> None:
    def tap(direction: str, conn: Connection, data: bytes) -> None:
        local = (str(conn.local[0]), int(conn.local[1]))
        remote = (str(conn.remote[0]), int(conn.remote[1]))
        if direction == "in":
            mirror.mirror(data, remote, local)
        else:
            mirror.mirror(data, local, remote)

    node.taps.append(tap)


def install(node: Node, ctx: AppContext) -> None:
    if not ctx.config.diameter.mirror:
        return
    host, port = split_host_port(ctx.config.diameter.mirror, TZSP_PORT)
    mirror = TzspMirror(host, port)
    attach(node, mirror)
    log.info("mirroring Diameter to TZSP collector %s:%d", host, port)

    async def stop() -> None:
        mirror.close()

    ctx.services.stoppers.append(stop)
