"""The latency floor of bench/s6a.py's clients on this machine: the same paced AIR load against an asyncio
server that only echoes each Diameter frame back. Whatever latency this shows is not the HSS's.

Run: .venv/bin/python bench/echo_floor.py [RATE ...]   (total requests per second; default 1000 2000 3000)
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import s6a
from loadgen import pct


def serve(port: int) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readexactly(20)
                body = await reader.readexactly(int.from_bytes(head[1:4], "big") - 20)
                writer.write(head + body)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        await server.serve_forever()

    asyncio.run(main())


def main() -> None:
    rates = [float(x) for x in sys.argv[1:]] or [1000.0, 2000.0, 3000.0]
    port = s6a.free_port()
    server = mp.Process(target=serve, args=(port,), daemon=True)
    server.start()
    time.sleep(0.5)
    try:
        for rate in rates:
            got, latencies, _ = s6a.load(port, "air", 2, 64, 4, 2000, rate)
            print(f"echo server, {got:6.0f}/s paced: p50 {pct(latencies, 50):.2f} ms, p99 {pct(latencies, 99):.2f} ms")
    finally:
        server.kill()


if __name__ == "__main__":
    main()
