"""A node for the flood tests, in a process of its own so that its memory, descriptors and log are its own.

It answers S6a AIRs at once with a canned Authentication-Info (computing real vectors costs ~0.2 ms each:
what is under test is what the node does with connections and bytes, not the AUC), accepts unconfigured
peers from 127.0.0.1 only, logs as ``sigcore run`` does (INFO, text) to the file given, and prints its
port. Usage: python flood_server.py LOG_FILE CER_TIMEOUT
"""

from __future__ import annotations

import asyncio
import signal
import sys

from sigcore.config import LoggingConfig
from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.aio import Node, NodeSettings, RequestContext
from sigcore.diameter.answers import Identity, answer
from sigcore.diameter.message import Message
from sigcore.diameter.peer import PeerPolicy
from sigcore.logging_setup import configure

S6A, AIR, VENDOR = 16777251, 318, 10415
VECTOR = D.build("Authentication-Info", [("E-UTRAN-Vector", [("RAND", b"\x01" * 16), ("XRES", b"\x02" * 8),
                                                              ("AUTN", b"\x03" * 16), ("KASME", b"\x04" * 32)])])
APPLICATION = [D.build("Vendor-Specific-Application-Id", [("Vendor-Id", VENDOR), ("Auth-Application-Id", S6A)]),
               D.build("Auth-Session-State", 1)]


def aia(req: Message, ctx: RequestContext) -> Message:
    return answer(req, ctx.node.identity, 2001, [*APPLICATION, VECTOR])


async def main(log_file: str, cer_timeout: float) -> None:
    with open(log_file, "a") as log:
        configure(LoggingConfig(level="INFO"), log)
        settings = NodeSettings(Identity("hss.localdomain", "localdomain"), listen=[("127.0.0.1", 0)],
                                allow=["127.0.0.1/32"],
                                policy=PeerPolicy(tw=30, tc=5, cer_timeout=cer_timeout, dpa_timeout=1))
        node = Node(settings)
        node.register(S6A, AIR, aia, VENDOR)
        await node.start()
        print(node.bound_ports[0], flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await node.stop(wait=0.2)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2])))
