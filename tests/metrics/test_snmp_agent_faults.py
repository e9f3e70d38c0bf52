"""The SNMP agent's faults: junk datagrams, a port in use, an IPv6 address.

Junk is dropped with one line each (rate-limited), the agent still answering: pysnmp 7 / pyasn1 0.6 raise
TypeError (not their decoding error) on some malformed messages, for example one whose outer tag is a
constructed type other than SEQUENCE; that went to asyncio's exception handler, a traceback of 25 lines
per datagram that anyone able to send UDP to the agent could repeat."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from interop.ports import LOOPBACK, free_udp_port
from sigcore.config import load_config
from sigcore.metrics.registry import Registry
from sigcore.metrics.snapshot import Snapshot, local_snapshot
from sigcore.metrics.snmp.agent import AgentSettings, SnmpAgent


def _tlv(tag: int, value: bytes) -> bytes:
    assert len(value) < 128
    return bytes((tag, len(value))) + value


def v2c_get(community: bytes, oid: bytes, request_id: int = 1) -> bytes:
    """A GetRequest for one OID (its BER body given), version 2c."""
    varbind = _tlv(0x30, _tlv(0x06, oid) + b"\x05\x00")
    pdu = _tlv(0xA0, _tlv(0x02, bytes((request_id,))) + _tlv(0x02, b"\0") + _tlv(0x02, b"\0") + _tlv(0x30, varbind))
    return _tlv(0x30, _tlv(0x02, b"\x01") + _tlv(0x04, community) + pdu)


SYS_DESCR = bytes((0x2B, 6, 1, 2, 1, 1, 1, 0))  # 1.3.6.1.2.1.1.1.0: outside the agent's view


async def _first_answer(sock: socket.socket, request: bytes, address: tuple[str, int]) -> bytes:
    """Send ``request`` until answered (the UDP endpoint starts reading after start() returns)."""
    loop = asyncio.get_running_loop()
    for _ in range(50):
        sock.sendto(request, address)
        try:
            return await asyncio.wait_for(loop.sock_recv(sock, 65535), 0.1)
        except TimeoutError:
            continue
    raise AssertionError(f"no answer from the agent on {address}")


async def _source() -> Snapshot:
    return local_snapshot(Registry())


async def test_junk_datagrams_are_dropped_in_one_line_and_the_agent_answers_after(
        caplog: pytest.LogCaptureFixture) -> None:
    port = free_udp_port()
    agent = SnmpAgent(AgentSettings(host=LOOPBACK, port=port, community="public"), _source)
    failures: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: failures.append(context))
    await agent.start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        valid = v2c_get(b"public", SYS_DESCR)
        await _first_answer(sock, valid, (LOOPBACK, port))
        junk = [b"\x70" + valid[1:],  # an application-class constructed outer tag: pysnmp's TypeError
                b"\x30\x84\xff\xff\xff\xff", b"", bytes(range(256))[:200], valid[:-3]]
        with caplog.at_level(logging.INFO, logger="sigcore.metrics.snmp"):
            for datagram in junk * 3:
                sock.sendto(datagram, (LOOPBACK, port))
            await asyncio.sleep(0.3)
            sock.sendto(valid, (LOOPBACK, port))
            answer = await asyncio.wait_for(loop.sock_recv(sock, 65535), 5)
        assert answer[0] == 0x30 and b"public" in answer  # a Response to the valid request
        assert failures == [], [c.get("message") for c in failures]
        dropped = [r for r in caplog.records if "SNMP: dropped" in r.getMessage()]
        assert dropped and all(r.exc_info is None for r in dropped)
        assert "TypeError" in dropped[0].getMessage() and f"{LOOPBACK}:" in dropped[0].getMessage()
    finally:
        sock.close()
        await agent.stop()


async def test_an_ipv6_listen_address_is_served() -> None:
    """``metrics.snmp.listen: "[::1]:PORT"`` was given to pysnmp's IPv4 transport and served nothing."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    port = free_udp_port()
    agent = SnmpAgent(AgentSettings(host="::1", port=port, community="public"), _source)
    await agent.start()
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        answer = await _first_answer(sock, v2c_get(b"public", SYS_DESCR, request_id=9), ("::1", port))
        assert answer[0] == 0x30 and b"public" in answer
    finally:
        sock.close()
        await agent.stop()


def test_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """The agent said it listened, and served nothing for ever, when its port was taken (pysnmp bound it in
    a future nobody awaited)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind((LOOPBACK, 0))
        port = taken.getsockname()[1]
        (tmp_path / "c.yaml").write_text(f'metrics: {{snmp: {{listen: "{LOOPBACK}:{port}"}}}}\n')
        done = subprocess.run([sys.executable, "-m", "sigcore.cli", "snmp-agent", "--config", str(tmp_path / "c.yaml")],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done
    assert done.stderr.strip().splitlines()[-1] == (
        f"metrics.snmp.listen: {LOOPBACK}:{port} is already in use (another program, or another sigcore, "
        "listens there)"), done.stderr
    assert "Traceback" not in done.stderr and "listening" not in done.stdout


@pytest.mark.parametrize(("snmp", "args", "said"), [
    # pysnmp refused these with a traceback (WrongValueError) after the agent had started
    ('{v3_user: u, v3_auth_key: short, v3_priv_key: "12345678"}', (),
     "invalid configuration: metrics.snmp.v3_auth_key: String should have at least 8 characters"),
    (f'{{v3_user: {"u" * 33}, v3_auth_key: "12345678", v3_priv_key: "12345678"}}', (),
     "invalid configuration: metrics.snmp.v3_user: String should have at most 32 characters"),
    ('{v3_auth_key: "12345678", v3_priv_key: "12345678"}', (),
     "invalid configuration: metrics.snmp: v3_auth_key and v3_priv_key need v3_user"),
    ('{listen: "127.0.0.1:99999"}', (),  # said it listened there, and served nothing
     "invalid configuration: metrics.snmp.listen: expected 'host:port'"),
    ("{}", ("--listen", "foo:bar"), "Invalid value for --listen: expected 'host:port'"),  # a traceback
    ("{}", ("--refresh", "0"), "Invalid value for '--refresh'"),  # re-read Redis in a busy loop
    ("{}", ("--refresh", "inf"), "Invalid value for '--refresh'"),  # never re-read Redis at all
])
def test_bad_snmp_settings_are_one_line_before_anything_starts(tmp_path: Path, snmp: str, args: tuple[str, ...],
                                                               said: str) -> None:
    (tmp_path / "c.yaml").write_text(f"metrics: {{snmp: {snmp}}}\n")
    done = subprocess.run([sys.executable, "-m", "sigcore.cli", "snmp-agent", "--config", str(tmp_path / "c.yaml"),
                           *args], capture_output=True, text=True, timeout=20, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 2, done
    assert said in done.stderr and "Traceback" not in done.stderr and "listening" not in done.stdout, done.stderr


def test_a_null_community_turns_v2c_off_as_documented(tmp_path: Path) -> None:
    """docs/operations.md says `community: null` turns v2c off; the config refused null (a string expected)."""
    (tmp_path / "c.yaml").write_text('metrics: {snmp: {community: null, v3_user: nms, v3_auth_key: "auth-key-1", '
                                     'v3_priv_key: "priv-key-1"}}\n')
    assert load_config(str(tmp_path / "c.yaml")).metrics.snmp.community is None
    port = free_udp_port()
    agent = subprocess.Popen([sys.executable, "-m", "sigcore.cli", "snmp-agent", "--config", str(tmp_path / "c.yaml"),
                              "--listen", f"{LOOPBACK}:{port}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    seen = []
    try:
        assert agent.stderr is not None
        while not any("listening" in line for line in seen):
            seen.append(agent.stderr.readline())
            assert seen[-1], "".join(seen)
    finally:
        agent.terminate()
        _, err = agent.communicate(timeout=20)
    err = "".join(seen) + err
    assert f"SNMP agent on udp {LOOPBACK}:{port} (v2c off, v3 nms)" in err and "Traceback" not in err, err
    # logged as `sigcore run` logs (its format and redaction), not Python's default "INFO:name:..." lines
    assert "INFO sigcore.metrics" in err and "INFO:sigcore" not in err, err
