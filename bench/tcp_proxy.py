"""A byte pipe (no Diameter at all) for bench/dra.py's latency floor: each client connection gets its own
upstream connection to the target and bytes are copied both ways by one asyncio loop, as a relay's sockets
are. What a relay adds beyond this is its own work.

Usage: .venv/bin/python bench/tcp_proxy.py LISTEN_PORT TARGET_PORT
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

TASKS: set[asyncio.Task[Any]] = set()


class Upstream(asyncio.Protocol):
    def __init__(self, client: asyncio.Transport) -> None:
        self.client = client

    def data_received(self, data: bytes) -> None:
        self.client.write(data)


class Client(asyncio.Protocol):
    def __init__(self, target: int) -> None:
        self.target = target
        self.upstream: asyncio.Transport | None = None
        self.pending: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        task = asyncio.get_running_loop().create_task(self._connect(transport))
        TASKS.add(task)
        task.add_done_callback(TASKS.discard)

    async def _connect(self, client: asyncio.Transport) -> None:
        upstream, _ = await asyncio.get_running_loop().create_connection(lambda: Upstream(client), "127.0.0.1",
                                                                         self.target)
        self.upstream = upstream
        for chunk in self.pending:
            upstream.write(chunk)

    def data_received(self, data: bytes) -> None:
        if self.upstream is None:
            self.pending.append(data)
        else:
            self.upstream.write(data)


async def main(listen: int, target: int) -> None:
    server = await asyncio.get_running_loop().create_server(lambda: Client(target), "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
