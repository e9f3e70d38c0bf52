"""`sigcore run` processes for the DRA's black-box tests (HSSs with subscribers, DRAs), and a python-diameter
MME to talk to them. Everything runs on 127.0.0.1 with free ports; each process logs to the test's tmp dir."""

from __future__ import annotations

import os
import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from diameter.message import Message as PyMessage
from diameter.message.avp.grouped import RequestedEutranAuthenticationInfo
from diameter.message.commands import AuthenticationInformationRequest

from interop.ports import free_tcp_port, wait_tcp_listening
from interop.process import LoggedProcess
from interop.pydiameter_peer import APP_S6A, PyDiameterPeer
from sigcore.store import Store, create_key_file, migrate
from sigcore.toolkit import plmn

REALM = "localdomain"
K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
HOME_PLMN = plmn.encode("001", "01")


class Nodes:
    """Starts `sigcore run` processes in ``workdir`` and stops them all at the end of the test."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.kek_path = workdir / "kek.hex"
        self.kek = create_key_file(self.kek_path)
        self.procs: dict[str, LoggedProcess] = {}
        self.ports: dict[str, int] = {}

    def start(self, name: str, config: dict[str, Any], port: int | None = None) -> int:
        """``sigcore run`` with ``config`` over these defaults; returns its Diameter port."""
        port = port or free_tcp_port()
        base: dict[str, Any] = {
            "diameter": {"origin_host": f"{name}.{REALM}", "origin_realm": REALM, "listen": [f"127.0.0.1:{port}"],
                         "timers": {"tw": 6, "tc": 1, "request_timeout": 3}},
            "database": {"url": f"sqlite:///{self.workdir / name}.sqlite", "key_file": str(self.kek_path)},
            "api": {"enabled": False, "listen": f"127.0.0.1:{free_tcp_port()}"},
            "metrics": {"enabled": False}, "logging": {"level": "INFO"}}
        for key, value in config.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                base[key] = {**base[key], **value}
            else:
                base[key] = value
        path = self.workdir / f"{name}.yaml"
        path.write_text(yaml.safe_dump(base))
        proc = LoggedProcess([sys.executable, "-m", "sigcore.cli", "run", "--config", str(path)],
                             self.workdir / f"{name}.log", cwd=self.workdir)
        proc.start()
        self.procs[name] = proc
        self.ports[name] = port
        try:
            wait_tcp_listening(port, timeout=30)
        except BaseException as err:
            proc.stop()
            raise AssertionError(proc.log_tail()) from err
        return port

    def hss(self, name: str, imsis: list[str], port: int | None = None, **config: Any) -> int:
        """An HSS (S6a and the rest) with ``imsis`` provisioned (Milenage K/OPc, APN internet); ``config``
        sections go over the defaults (a ``dra`` section makes it an HSS and a DRA)."""
        url = f"sqlite:///{self.workdir / name}.sqlite"
        migrate(url)
        with Store(url, self.kek) as store:
            store.ensure_apn("internet")
            for imsi in imsis:
                store.add_subscriber(imsi, ki=K, opc=OPC, apns=["internet"])
        return self.start(name, config, port)

    def dra(self, name: str, peers: dict[str, int], dra: dict[str, Any], port: int | None = None,
            wait_peers: list[str] | None = None, **config: Any) -> int:
        """A DRA-only node (``hss.enabled: false``) connecting to ``peers`` (name -> port; port 0: a peer
        that connects to us); returns once the connections to ``wait_peers`` (default: all it dials) are open."""
        diameter = {"peers": [{"name": f"{p}.{REALM}" if "." not in p else p, "port": n or 3868,
                               "mode": "connect" if n else "accept"} for p, n in peers.items()],
                    **config.pop("diameter", {})}
        port = self.start(name, {"hss": {"enabled": False}, "diameter": diameter, "dra": dra, **config}, port)
        dialled = [p["name"] for p in diameter["peers"] if p["mode"] == "connect"]
        for peer in dialled if wait_peers is None else wait_peers:
            self.wait_open(name, peer)
        return port

    def wait_open(self, name: str, peer: str, timeout: float = 20.0) -> None:
        """Until node ``name`` logs that its connection to ``peer`` is open."""
        self.procs[name].wait_for(rf"peer {re.escape(peer)} open", timeout)

    def log(self, name: str) -> str:
        return self.procs[name].log_text()

    def kill(self, name: str) -> None:
        """SIGKILL: the peer vanishes without DPR, as a crashed HSS does."""
        pid = self.procs[name].pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)

    def stop_all(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.stop()


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[Nodes]:
    started = Nodes(tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


def mme(port: int, name: str = "mme.localdomain", remote: str = f"dra.{REALM}",
        remote_realm: str = REALM) -> PyDiameterPeer:
    """A python-diameter MME connecting to ``remote`` on ``port``; Destination-Realm ``remote_realm``."""
    return PyDiameterPeer(name, REALM, APP_S6A, remote_host=remote, remote_realm=remote_realm, connect_port=port)


def air(peer: PyDiameterPeer, imsi: str, destination_host: str | None = None) -> PyMessage:
    req = peer.prepare(AuthenticationInformationRequest(), destination_host)
    req.user_name = imsi
    req.visited_plmn_id = HOME_PLMN
    req.requested_eutran_authentication_info = RequestedEutranAuthenticationInfo(
        number_of_requested_vectors=1, immediate_response_preferred=0)
    return peer.request(req)


def avp_values(msg: PyMessage, code: int) -> list[Any]:
    return [a.value for a in msg.avps if a.code == code and not a.vendor_id]


def result_code(msg: PyMessage) -> int | None:
    found = avp_values(msg, 268)
    return int(found[0]) if found else None


def origin_host(msg: PyMessage) -> str:
    value = avp_values(msg, 264)[0]
    return value.decode() if isinstance(value, bytes) else str(value)
