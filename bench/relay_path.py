"""CPU per relayed AIR/AIA pair in the DRA's own code, without sockets: the sans-IO node core
(`sigcore.diameter.core.NodeCore`) with the DRA attached (`sigcore.dra.install.DraRouting`), fed an AIR from
a client peer and the null responder's AIA from the HSS peer, as bench/dra.py's relay sees them. What the
socket work adds (recv, send, the event loop) is not here: this isolates what the relay's own Python costs,
so that two versions of it can be compared in one process, unaffected by the machine's other load.

Reports µs per pair (best of ``--rounds`` windows of ``--pairs`` pairs) for the plain DRA and with the seed's
IMSI reversal as a pyform transform; ``--src DIR`` runs the same with another checkout's sources (a
subprocess with that ``src`` first on the path), in the same run.

Usage: .venv/bin/python bench/relay_path.py [--pairs 20000] [--rounds 7] [--src OTHER/src ...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROUTE = "hss.localdomain"
IMSI_REVERSAL = '''def transform(appId, flags, cmdCode, HBH_ID, E2E_ID, AVP_Code, vendorID, value):
    if (int(appId) == 16777251) and int(AVP_Code) == 1:
        value = str(value[::-1]).zfill(15)
    return value
'''


class Conn:
    __slots__ = ("closed", "last", "name", "peer", "remote")

    def __init__(self, name: str) -> None:
        self.name, self.remote, self.closed = name, ("127.0.0.1", 40000), False
        self.peer: Any = None
        self.last: bytes | bytearray = b""


class Output:
    """The adapter's side, keeping only the last write per connection."""

    def write(self, conn: Conn, data: bytes | bytearray) -> None:
        conn.last = data

    def disconnect(self, conn: Conn) -> None:
        conn.closed = True

    def dial(self, peer: Any) -> None:
        pass

    def handle(self, *args: Any) -> None:
        raise AssertionError("nothing is delivered locally here")

    def peer_changed(self, *args: Any) -> None:
        pass

    def answer_received(self, *args: Any) -> None:
        pass

    def request_failed(self, *args: Any) -> None:
        pass

    def relay_deadline(self, when: float) -> None:
        pass

    def handling(self, conn: Any) -> bool:
        return False


def build(pyform: bool, directory: Path, idle_peers: int) -> tuple[Any, Conn, Conn, bytes, Any]:
    from sigcore.diameter.answers import Identity
    from sigcore.diameter.core import NodeCore
    from sigcore.diameter.peer import PeerPolicy
    from sigcore.dra.agent import RoutingAgent
    from sigcore.dra.config import DraConfig
    from sigcore.dra.install import DraRouting
    from sigcore.loadgen.requests import Target, air, cer
    from sigcore.loadgen.responder import Responder

    raw: dict[str, Any] = {"routes": [{"name": "all", "peers": [ROUTE]}]}
    if pyform:
        (directory / "imsi_reversal.py").write_text(IMSI_REVERSAL)
        raw["pyform"] = {"directory": str(directory), "module": "imsi_reversal"}
    identity = Identity("relay.localdomain", "localdomain")
    out = Output()
    core = NodeCore(identity, out, policy=PeerPolicy(jitter=0.0), configured={ROUTE: False}, relay=True)
    node = SimpleNamespace(routing=core.hooks, peers=core.peers, settings=SimpleNamespace(relay=True),
                           identity=identity, dictionary=core.dictionary)
    DraRouting(RoutingAgent(DraConfig.model_validate(raw), identity, core.dictionary), node).attach()  # type: ignore[arg-type]
    core.start(0.0)
    target = Target("localdomain", "localdomain")
    client, hss = Conn("mme"), Conn(ROUTE)
    core.frame(client, cer(target, "mme.localdomain", {16777251}), 0.0)
    responder = Responder(ROUTE, "localdomain")
    responder_cer = bytearray(cer(target, ROUTE, {16777251}))
    core.frame(hss, bytes(responder_cer), 0.0)
    assert client.peer is not None and hss.peer is not None, "both peers open"
    for i in range(idle_peers):  # other MMEs, open but idle: what a DRA with many clients also holds
        core.frame(Conn(f"mme{i}"), cer(target, f"mme{i}.localdomain", {16777251}), 0.0)
    return core, client, hss, air(target, "mme.localdomain", 1), responder


def answer_of(responder: Any, request: bytes | bytearray) -> bytes:
    """The null responder's answer to ``request`` (its own code path, without a transport)."""
    sent: list[bytes] = []
    responder.transport = SimpleNamespace(write=sent.append)
    responder.buf = bytearray()
    responder.data_received(bytes(request))
    return b"".join(sent)


def measure(pyform: bool, pairs: int, rounds: int, idle_peers: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        core, client, hss, air, responder = build(pyform, Path(tmp), idle_peers)
        core.frame(client, air, 0.0)
        aia = answer_of(responder, hss.last)  # one answer, its hop-by-hop id patched per pair below
        frame = core.frame
        best = float("inf")
        request = bytearray(air)
        answer = bytearray(aia)
        for _ in range(rounds):
            t0 = time.perf_counter()
            for i in range(pairs):
                request[12:16] = i.to_bytes(4, "big")
                frame(client, bytes(request), 1.0)
                answer[12:16] = hss.last[12:16]
                frame(hss, bytes(answer), 1.0)
            best = min(best, (time.perf_counter() - t0) / pairs)
        assert client.last[12:16] == request[12:16], "the answer came back to the client"
        return best * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--idle-peers", type=int, default=16, help="other client peers open beside the one sending")
    ap.add_argument("--src", nargs="*", default=[], help="other checkouts' src directories, measured the same way")
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a child run: print the numbers only
    args = ap.parse_args()
    plain = measure(False, args.pairs, args.rounds, args.idle_peers)
    transformed = measure(True, args.pairs, args.rounds, args.idle_peers)
    if args.one:
        print(f"{plain:.3f} {transformed:.3f}")
        return
    rows = [("this checkout", plain, transformed)]
    for src in args.src:
        env = {**os.environ, "PYTHONPATH": str(Path(src).resolve())}
        argv = [sys.executable, __file__, "--one", "--pairs", str(args.pairs), "--rounds", str(args.rounds),
                "--idle-peers", str(args.idle_peers)]
        line = subprocess.run(argv, env=env, check=True, capture_output=True, text=True).stdout
        a, b = map(float, line.split())
        rows.append((src, a, b))
    print(f"{'sources':40} {'plain µs/pair':>14} {'pyform µs/pair':>15} {'pyform share':>13}")
    for name, a, b in rows:
        print(f"{name:40} {a:14.2f} {b:15.2f} {100 * a / b:12.0f}%")


if __name__ == "__main__":
    main()
