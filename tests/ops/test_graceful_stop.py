"""SIGTERM to `sigcore run` while an MME's requests are in flight: each is answered before the node closes,
and the MME, which sends until it gets the DPR, gets an answer to everything it sent. A lock held on the
PostgreSQL table of the AIRs keeps them in flight for a second after the signal. (The old order, the HSS's
batch worker drained before the node's DPR, passed this too; it pins that the node-first order keeps it.)"""

from __future__ import annotations

import os
import signal
import socket
import struct
import time
from pathlib import Path
from typing import BinaryIO

import pytest
import sqlalchemy
from sigcore_process import Sigcore, fixed_keys_config, wait_exit

from sigcore.diameter.answers import Identity
from sigcore.diameter.capabilities import make_dpa
from sigcore.diameter.message import Message
from sigcore.loadgen.requests import S6A, Target, air, cer
from support.s6a import OPC, K

pytestmark = [pytest.mark.interop]
IMSI = "001010000000001"
MME = "mme.localdomain"
COUNT = 2000


def _read(stream: BinaryIO) -> Message | None:
    """The next message, None at the end of the connection."""
    head = stream.read(4)
    if len(head) < 4:
        return None
    rest = int.from_bytes(head[1:4], "big") - 4
    body = stream.read(rest)
    return Message.decode(head + body) if len(body) == rest else None


def test_sigterm_answers_every_request_in_flight_before_closing(tmp_path: Path, postgres_url: str) -> None:
    sigcore = Sigcore(tmp_path, fixed_keys_config(postgres_url))
    try:
        added = sigcore.command("subscriber", "add", "--imsi", IMSI, "--ki", K.hex(), "--opc", OPC.hex())
        assert added.returncode == 0, added.stderr
        run = sigcore.start()
        target = Target(imsi_first=int(IMSI))
        one = bytearray(air(target, MME, 0))
        burst = bytearray()
        for n in range(1, COUNT + 1):
            struct.pack_into(">II", one, 12, n, n)
            burst += one
        with socket.create_connection(("127.0.0.1", sigcore.diameter_port), timeout=30) as sock:
            sock.sendall(cer(target, MME, {S6A}))
            stream = sock.makefile("rb")
            cea = _read(stream)
            assert cea is not None and cea["Result-Code"] == 2001
            with sqlalchemy.create_engine(postgres_url).connect() as lock:
                lock.execute(sqlalchemy.text("LOCK TABLE auth_data IN ACCESS EXCLUSIVE MODE"))  # the AIRs wait
                sock.sendall(burst)
                time.sleep(0.5)
                assert run.pid is not None
                os.kill(run.pid, signal.SIGTERM)  # all of them in flight
                time.sleep(1.0)
                lock.rollback()
            codes: dict[int, int] = {}
            answered: set[int] = set()
            sent = COUNT
            dpr = 0
            while (msg := _read(stream)) is not None:
                if msg.code == 282 and msg.is_request:  # the node's DPR: answered, and no request after it
                    dpr += 1
                    sock.sendall(make_dpa(msg, Identity(MME, "localdomain")).encode())
                    continue
                assert msg.code == 318 and msg.hop_by_hop not in answered, "a request was answered twice"
                answered.add(msg.hop_by_hop)
                rc = int(msg.get("Result-Code", 0))
                codes[rc] = codes.get(rc, 0) + 1
                if not dpr:  # an MME goes on sending until the node says it is going (DPR)
                    sent += 1
                    struct.pack_into(">II", one, 12, sent, sent)
                    sock.sendall(one)
        assert dpr == 1
        assert codes == {2001: sent}, run.log_tail()
        assert wait_exit(run) == 0
    finally:
        sigcore.stop()
