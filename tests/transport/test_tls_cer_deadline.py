"""The CER deadline counts from the TCP accept on a TLS listener: a client that never starts the handshake,
one that completes it and then says nothing, and one that handshakes late are all closed within cer_timeout
of connecting."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time

from nodes import CLIENT, REALM, SERVER, answer_ccr

from sigcore.diameter.aio import Node, NodeSettings
from sigcore.diameter.answers import Identity
from sigcore.diameter.constants import AppId, Cmd
from sigcore.diameter.peer import PeerPolicy
from sigcore.diameter.transport import TlsListener
from sigcore.diameter.transport.tls import client_context, server_context
from support.certs import TestCA

CER_TIMEOUT = 1.5


async def closed_after(reader: asyncio.StreamReader, started: float) -> float:
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        while await asyncio.wait_for(reader.read(4096), CER_TIMEOUT + 5):
            pass
    return time.monotonic() - started


async def test_tls_connections_without_cer_are_closed_within_cer_timeout_of_the_accept(pki: TestCA) -> None:
    files, mine = pki.issue(SERVER), pki.issue(CLIENT, "client")
    node = Node(NodeSettings(Identity(SERVER, REALM), listen=[], policy=PeerPolicy(cer_timeout=CER_TIMEOUT),
                             listeners=[TlsListener("127.0.0.1", 0, server_context(files.cert, files.key, files.ca))]))
    node.register(int(AppId.CREDIT_CONTROL), int(Cmd.CREDIT_CONTROL), answer_ccr)
    await node.start()
    port, tls = node.bound_ports[0], client_context(mine.cert, mine.key, mine.ca)
    try:
        async def no_handshake() -> float:
            started = time.monotonic()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                return await closed_after(reader, started)
            finally:
                writer.close()

        async def handshake_then_silence(delay: float) -> float:
            started = time.monotonic()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            await asyncio.sleep(delay)
            try:
                await writer.start_tls(tls, server_hostname=SERVER)
            except (ConnectionError, ssl.SSLError, TimeoutError):
                return time.monotonic() - started  # the server gave up on the handshake first
            try:
                return await closed_after(reader, started)
            finally:
                writer.close()

        closed = await asyncio.gather(no_handshake(), handshake_then_silence(0), handshake_then_silence(1.0))
    finally:
        await node.stop(wait=0.2)
    assert all(seconds < CER_TIMEOUT + 0.5 for seconds in closed), closed
    assert len(node.core.admission) == 0
