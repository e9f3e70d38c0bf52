"""A gateway sends a CCR again after the OCS died (RFC 6733 §5.5.4: the same End-to-End id, the T-flag):
a `sigcore run` process is killed (SIGKILL) after answering, started again on the same database, and gets
the CCR-U, the CCR-T and a CCR-Event again. Each is answered as the first time and charged once: the node's
in-memory duplicate cache died with the process, the session rows remember (`sigcore.charging.sessions`)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from interop.ports import free_tcp_port
from sigcore.charging.model import Balance
from sigcore.charging.repo import ChargingStore
from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.constants import FLAG_RETRANSMIT
from sigcore.diameter.message import Message
from sigcore.store import Store
from support.keys import TEST_KEK

pytestmark = [pytest.mark.interop, pytest.mark.slow]
REALM, ACCOUNT, MB = "localdomain", "61400000077", 1_000_000
INITIAL, UPDATE, TERMINATION, EVENT = 1, 2, 3, 4


class Ocs:
    """`sigcore run` with a charging section, and one Diameter connection to it as pgw.localdomain."""

    def __init__(self, config: Path, port: int) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "SIGCORE_KEK": TEST_KEK.hex()}
        self.proc = subprocess.Popen([sys.executable, "-m", "sigcore.cli", "run", "--config", str(config)], env=env)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), 1)
                break
            except OSError:
                assert self.proc.poll() is None and time.monotonic() < deadline, "sigcore run did not start"
                time.sleep(0.2)
        self.sock.settimeout(10)
        cea = self.exchange(Message(257, 0, 0x80, 1, 1, D.build_many([
            ("Origin-Host", f"pgw.{REALM}"), ("Origin-Realm", REALM), ("Host-IP-Address", "127.0.0.1"),
            ("Vendor-Id", 0), ("Product-Name", "pgw"), ("Auth-Application-Id", 4)])).encode())
        assert cea["Result-Code"] == 2001

    def exchange(self, frame: bytes) -> Message:
        self.sock.sendall(frame)
        head = self._read(20)
        return Message.decode(head + self._read(int.from_bytes(head[1:4], "big") - 20))

    def _read(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            assert chunk, "the OCS closed the connection"
            out += chunk
        return out

    def kill(self) -> None:
        self.sock.close()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        self.sock.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)


def ccr(session: str, kind: int, number: int, e2e: int, ask: int | None, used: int | None) -> bytes:
    mscc: list[tuple[str, Any]] = [("Rating-Group", 1)]
    if ask is not None:
        mscc.append(("Requested-Service-Unit", [("CC-Total-Octets", ask)]))
    if used is not None:
        mscc.append(("Used-Service-Unit", [("CC-Total-Octets", used)]))
    avps: list[tuple[str, Any]] = [
        ("Session-Id", session), ("Origin-Host", f"pgw.{REALM}"), ("Origin-Realm", REALM),
        ("Destination-Realm", REALM), ("Auth-Application-Id", 4), ("Service-Context-Id", "32251@3gpp.org"),
        ("CC-Request-Type", kind), ("CC-Request-Number", number),
        ("Subscription-Id", [("Subscription-Id-Type", 0), ("Subscription-Id-Data", ACCOUNT)]),
        ("Multiple-Services-Credit-Control", mscc)]
    if kind == EVENT:
        avps.append(("Requested-Action", 0))
    return Message(272, 4, 0xC0, e2e, e2e, D.build_many(avps)).encode()


def outcome(cca: Message) -> tuple[Any, ...]:
    """What a gateway acts on: the Result-Codes and the grant."""
    mscc = cca.get("Multiple-Services-Credit-Control") or {}
    return cca["Result-Code"], mscc.get("Result-Code"), mscc.get("Granted-Service-Unit", {}).get("CC-Total-Octets")


@pytest.fixture
def ocs_config(charging_url: str, tmp_path: Path) -> Iterator[tuple[Path, int, str]]:
    with (Store(charging_url, TEST_KEK) as store,
          ChargingStore(store).locked_account("cgrates.org", ACCOUNT, create=True) as (_conn, slot)):
        assert slot.account is not None
        slot.account.balances.append(Balance(type="*data", id="d", value=Decimal(10 * MB)))
    port = free_tcp_port()
    config = tmp_path / "sigcore.yaml"
    config.write_text(f"database:\n  url: {charging_url}\ndiameter:\n  origin_host: ocs.{REALM}\n"
                      f"  origin_realm: {REALM}\n  listen: ['127.0.0.1:{port}']\napi:\n  enabled: false\n"
                      f"metrics:\n  enabled: false\ncharging:\n  listen: 127.0.0.1:{free_tcp_port()}\n")
    yield config, port, charging_url


def data_left(url: str) -> Decimal:
    with (Store(url, TEST_KEK) as store,
          ChargingStore(store).locked_account("cgrates.org", ACCOUNT, create=False) as (_conn, slot)):
        assert slot.account is not None
        return sum((b.value for b in slot.account.balances), Decimal(0))


def test_ccrs_sent_again_after_the_ocs_was_killed_are_charged_once(ocs_config: tuple[Path, int, str]) -> None:
    config, port, url = ocs_config
    sent: list[tuple[bytes, tuple[Any, ...]]] = []
    ocs = Ocs(config, port)
    try:
        for frame in (ccr("gy;1", INITIAL, 0, 101, MB, None), ccr("gy;1", UPDATE, 1, 102, MB, MB),
                      ccr("gy;1", TERMINATION, 2, 103, None, MB), ccr("sms;1", EVENT, 0, 104, MB, None)):
            first = ocs.exchange(frame)
            assert first["Result-Code"] == 2001
            sent.append((frame, outcome(first)))
            if len(sent) > 1:  # the OCS dies after answering; the gateway sends that CCR again to its successor
                ocs.kill()
                assert data_left(url) == 10 * MB - len(sent[1:]) * MB
                ocs = Ocs(config, port)
                again = bytearray(frame)
                again[4] |= FLAG_RETRANSMIT
                assert outcome(ocs.exchange(bytes(again))) == sent[-1][1]
                assert data_left(url) == 10 * MB - len(sent[1:]) * MB
    finally:
        ocs.stop()
    assert [o for _, o in sent] == [(2001, 2001, MB), (2001, 2001, MB), (2001, 2001, None), (2001, 2001, MB)]
    with Store(url, TEST_KEK) as store:
        cdrs = ChargingStore(store).get_cdrs(sources=["*diameter_gy"])
    assert sorted(c["OriginID"] for c in cdrs) == ["gy;1", "sms;1"]
