"""Requests for peers another worker holds: ``node.fallback`` sends them to the sibling workers.

A worker's node raises 3002 for a request whose peer has no open connection in this process (an MME's one
connection landed on another worker, SO_REUSEPORT). The fallback asks each sibling over its abstract Unix
socket; the one holding the peer sends the request on its connection and returns the answer, the others
say "not here". One frame each way, a connection per request (the siblings are few; HSS-initiated
requests are not the hot path)::

    ask:    u32 peer-name length, peer name (empty: the request's Destination-Host), f64 timeout,
            u32 message length, the encoded request
    reply:  u8 status (0 answered, 1 not here, 2 failed), u32 length, the encoded answer or the reason

A request being relayed is never relayed again (`_RELAYING`), so two workers cannot bounce it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import struct

from sigcore.diameter.aio import Node
from sigcore.diameter.message import Message
from sigcore.workers import Worker

log = logging.getLogger("sigcore.workers.relay")
ANSWERED, NOT_HERE, FAILED = 0, 1, 2
_RELAYING: contextvars.ContextVar[bool] = contextvars.ContextVar("sigcore_relaying", default=False)
_U32 = struct.Struct("!I")
_F64 = struct.Struct("!d")


class NotHeld(ConnectionError):
    """No worker holds an open connection to the peer."""


class SiblingRelay:
    """This worker's side of the relay: the server siblings ask, and `node.fallback`."""

    def __init__(self, node: Node, worker: Worker) -> None:
        self.node, self.worker = node, worker
        self._server: asyncio.AbstractServer | None = None
        self.relayed = 0  # requests this worker sent for a sibling

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._serve, self.worker.socket_name())
        self.node.fallback = self.request

    async def stop(self) -> None:
        self.node.fallback = None
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # --- asking -----------------------------------------------------------------------------------
    async def request(self, msg: Message, peer: str | None, timeout: float) -> Message:
        """`msg` sent by the sibling that holds `peer` (or its Destination-Host); its answer."""
        name = peer or _destination_host(msg)
        if _RELAYING.get() or not name:
            raise NotHeld(f"no open connection to {name or 'the destination'}")
        frame = _U32.pack(len(name.encode())) + name.encode() + _F64.pack(timeout)
        data = msg.encode()
        frame += _U32.pack(len(data)) + data
        for index in self.worker.siblings:
            try:
                async with asyncio.timeout(timeout + 1.0):
                    status, body = await self._ask(index, frame)
            except (OSError, asyncio.IncompleteReadError):
                continue  # that worker is restarting or gone: it holds nothing
            if status == ANSWERED:
                return Message.decode(body)
            if status == FAILED:
                raise ConnectionError(body.decode(errors="replace"))
        raise NotHeld(f"no open connection to {name} in any of the {self.worker.count} workers")

    async def _ask(self, index: int, frame: bytes) -> tuple[int, bytes]:
        reader, writer = await asyncio.open_unix_connection(self.worker.socket_name(index))
        try:
            writer.write(frame)
            await writer.drain()
            head = await reader.readexactly(1 + _U32.size)
            return head[0], await reader.readexactly(_U32.unpack_from(head, 1)[0])
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    # --- answering ----------------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            name = (await reader.readexactly(_U32.unpack(await reader.readexactly(4))[0])).decode()
            timeout = _F64.unpack(await reader.readexactly(8))[0]
            data = await reader.readexactly(_U32.unpack(await reader.readexactly(4))[0])
            status, body = await self._send_here(name, timeout, data)
            writer.write(bytes([status]) + _U32.pack(len(body)) + body)
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, ValueError, struct.error):
            pass  # the asking worker went away
        finally:
            writer.close()

    async def _send_here(self, name: str, timeout: float, data: bytes) -> tuple[int, bytes]:
        found = self.node.peers.get(name.lower())
        if found is None or not found.is_open:
            return NOT_HERE, b""
        _RELAYING.set(True)  # this task's request must not come back to the relay
        try:
            answer = await self.node.request(Message.decode(data), peer=name, timeout=timeout)
        except TimeoutError:
            return FAILED, f"no answer from {name} within {timeout:g} s (worker {self.worker.index})".encode()
        except Exception as err:  # the connection dropped meanwhile, or the peer refused it
            return FAILED, f"{type(err).__name__} sending to {name} in worker {self.worker.index}: {err}".encode()
        self.relayed += 1
        return ANSWERED, answer.encode()


def _destination_host(msg: Message) -> str | None:
    value = msg.get("Destination-Host")
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value if isinstance(value, str) else None
