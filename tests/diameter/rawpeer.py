"""A deliberately dumb Diameter client for tests: sends exact bytes over TCP and reads whole answers.

It uses the codec to build messages (so faults are introduced on purpose, AVP by AVP), never hex.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.answers import Identity
from sigcore.diameter.avp import Avp
from sigcore.diameter.capabilities import LocalCapabilities, make_cer
from sigcore.diameter.message import Message

CC_APP = 4


def ccr_avps(origin: str = "client.localdomain", realm: str = "localdomain", **overrides: object) -> list[Avp]:
    """A valid CCR's AVPs; ``overrides`` replace values by AVP name (None drops the AVP)."""
    values: dict[str, object] = {
        "Session-Id": f"{origin};1;1",
        "Origin-Host": origin,
        "Origin-Realm": realm,
        "Destination-Realm": "localdomain",
        "Auth-Application-Id": CC_APP,
        "Service-Context-Id": "32251@3gpp.org",
        "CC-Request-Type": 1,
        "CC-Request-Number": 0,
    }
    values.update({k.replace("_", "-"): v for k, v in overrides.items()})
    return [D.build(k, v) for k, v in values.items() if v is not None]


def ccr(hbh: int = 1, e2e: int = 1, flags: int = 0xC0, app: int = CC_APP, code: int = 272,
        avps: Iterable[Avp] | None = None) -> Message:
    return Message(code, app, flags, hbh, e2e, list(avps) if avps is not None else ccr_avps())


class RawPeer:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int, host: str = "127.0.0.1") -> RawPeer:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def handshake(self, origin: str = "client.localdomain", apps: dict[int, int] | None = None) -> Message:
        caps = LocalCapabilities(Identity(origin, "localdomain"), auth_apps=apps or {CC_APP: 0})
        cer = make_cer(caps)
        cer.hop_by_hop, cer.end_to_end = 0x77, 0x77
        await self.send(cer.encode())
        return await self.read()

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read(self, timeout: float = 5.0) -> Message:
        head = await asyncio.wait_for(self.reader.readexactly(20), timeout)
        length = int.from_bytes(head[1:4], "big")
        body = await asyncio.wait_for(self.reader.readexactly(length - 20), timeout)
        return Message.decode(head + body)

    async def closed(self, timeout: float = 5.0) -> bool:
        """True if the server closed the connection (EOF) within ``timeout``."""
        try:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
        except (TimeoutError, ConnectionResetError):
            return False
        return data == b""

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass
