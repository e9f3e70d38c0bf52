"""A null Diameter responder: answers CER/DWR/DPR and every other request with Result-Code 2001, the
request's Session-Id and nothing else. It stands behind a DRA under test so that the relay, not a server,
is what a benchmark measures. Run: ``python -m sigcore.loadgen.responder --port 3869 --origin-host hss1``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import struct

from sigcore.diameter.dictionary import DICTIONARY as D

_HEADER = struct.Struct(">I4I")
CER, DWR, DPR = 257, 280, 282
RELAY = 0xFFFFFFFF


class Responder(asyncio.Protocol):
    def __init__(self, origin_host: str, origin_realm: str) -> None:
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        origin = D.encode_items([("Origin-Host", origin_host), ("Origin-Realm", origin_realm)])
        ok = D.encode_items([("Result-Code", 2001)])
        self.app_tail = ok + origin + D.encode_items([("Auth-Session-State", 1)])
        self.base_tail = ok + origin
        self.cea_tail = ok + origin + D.encode_items([
            ("Host-IP-Address", "127.0.0.1"), ("Vendor-Id", 0), ("Product-Name", "sigcore-null-responder"),
            ("Auth-Application-Id", RELAY)])

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        out = []
        off = 0
        n = len(buf)
        while n - off >= 20:
            length = int.from_bytes(buf[off + 1:off + 4], "big")
            if length < 20 or n - off < length:
                break
            frame = bytes(buf[off:off + length])
            off += length
            _, fc, app, hbh, e2e = _HEADER.unpack_from(frame)
            flags, code = fc >> 24, fc & 0xFFFFFF
            if not flags & 0x80:
                continue  # an answer (DWA): nothing to do
            if code == CER:
                body = self.cea_tail
            elif code in (DWR, DPR):
                body = self.base_tail
            else:
                body = self._session_id(frame) + self.app_tail
            out.append(_HEADER.pack((1 << 24) | (20 + len(body)), (flags & 0x40) << 24 | code, app, hbh, e2e) + body)
            if code == DPR and self.transport is not None:
                self.transport.write(b"".join(out))
                self.transport.close()
                return
        del buf[:off]
        if out and self.transport is not None:
            self.transport.write(b"".join(out))

    @staticmethod
    def _session_id(frame: bytes) -> bytes:
        """The first AVP if it is Session-Id (RFC 6733 puts it first), else nothing."""
        if len(frame) >= 28 and frame[20:24] == b"\x00\x00\x01\x07":
            length = int.from_bytes(frame[25:28], "big")
            return frame[20:20 + ((length + 3) & ~3)]
        return b""


async def serve(port: int, origin_host: str, origin_realm: str, ready: asyncio.Event | None = None) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Responder(origin_host, origin_realm), "127.0.0.1", port,
                                      reuse_address=True)
    if ready is not None:
        ready.set()
    print(f"null responder {origin_host} on 127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--origin-host", default="hss.localdomain")
    ap.add_argument("--origin-realm", default="localdomain")
    ap.add_argument("--cpu", type=int, default=None, help="pin to this CPU")
    args = ap.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    try:
        asyncio.run(serve(args.port, args.origin_host, args.origin_realm))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()


