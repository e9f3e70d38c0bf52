"""sigcore <-> freeDiameterd 1.2.1 over TLS, both styles: freeDiameterd dials sigcore's TLS listener
(RFC 6733 TLS from the first byte, or RFC 3588 in-band with ``TLS_old_method``), the capabilities exchange
completes with certificates checked on both sides, and a request from sigcore is answered over TLS."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from nodes import CLIENT, REALM, SERVER, open_peer, server_node, wait_until

from interop import freediameter
from interop.freediameter import ConnectPeer, FreeDiameterConfig, FreeDiameterFactory
from interop.ports import free_tcp_port
from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.answers import request, result_of
from sigcore.diameter.constants import AppId, Cmd, ResultCode
from sigcore.diameter.transport import TlsListener
from sigcore.diameter.transport.tls import server_context
from support.certs import TestCA

pytestmark = [pytest.mark.interop]


@dataclass(frozen=True)
class TlsConnectPeer(ConnectPeer):
    """A ConnectPeer over TLS: from the first byte, or in-band after CER/CEA (``old_method``)."""

    old_method: bool = False

    def render(self) -> str:
        params = [f'ConnectTo = "{self.address}"', f"Port = {self.port}", "No_SCTP"]
        if self.old_method:
            params.append("TLS_old_method")
        return f'ConnectPeer = "{self.name}" {{ {"; ".join(params)}; }};'


@dataclass
class TlsFreeDiameterConfig(FreeDiameterConfig):
    """freeDiameterd with a certificate, a CA and a TLS listener on ``sec_port``."""

    cert: str = ""
    key: str = ""
    ca: str = ""
    sec_port: int = 0

    def render(self, directory: Path) -> str:
        text = super().render(directory).replace("SecPort = 0;", f"SecPort = {self.sec_port or free_tcp_port()};")
        return text + f'TLS_Cred = "{self.cert}", "{self.key}";\nTLS_CA = "{self.ca}";\n'


@pytest.fixture
def fd_factory(tmp_path: Path) -> Iterator[FreeDiameterFactory]:
    if not freediameter.is_installed():
        pytest.skip("freeDiameterd not installed (apt-get install freediameterd freediameter-extensions)")
    factory = FreeDiameterFactory(tmp_path / "fd")
    try:
        yield factory
    finally:
        factory.close()


@pytest.mark.parametrize("inband", [False, True], ids=["rfc6733", "rfc3588-inband"])
async def test_freediameterd_over_tls(pki: TestCA, fd_factory: FreeDiameterFactory, inband: bool) -> None:
    ours, theirs = pki.issue(SERVER, "hss"), pki.issue(CLIENT, "mme")
    node = server_node([TlsListener("127.0.0.1", 0, server_context(ours.cert, ours.key, ours.ca), inband=inband)])
    await node.start()
    try:
        fd = fd_factory(TlsFreeDiameterConfig(
            identity=CLIENT, cert=theirs.cert, key=theirs.key, ca=theirs.ca,
            connect_peers=[TlsConnectPeer(SERVER, node.bound_ports[0], old_method=inband)]))
        await wait_until(lambda: open_peer(node, CLIENT) and node.peers[CLIENT].conn.tls_peer_cert is not None,
                         20, "freeDiameterd open over TLS")
        await asyncio.to_thread(fd.wait_for_state, SERVER, "STATE_OPEN")
        conn = node.peers[CLIENT].conn
        assert conn.transport.get_extra_info("ssl_object").version() in ("TLSv1.2", "TLSv1.3")
        assert ("DNS", CLIENT) in conn.tls_peer_cert["subjectAltName"]
        # A request freeDiameterd cannot deliver anywhere: it answers itself (3002), over the same TLS session.
        req = request(int(Cmd.CREDIT_CONTROL), int(AppId.CREDIT_CONTROL), [
            D.build("Session-Id", f"{SERVER};tls;1"), D.build("Origin-Host", SERVER), D.build("Origin-Realm", REALM),
            D.build("Destination-Realm", "elsewhere.example"), D.build("Auth-Application-Id", 4),
            D.build("Service-Context-Id", "32251@3gpp.org"), D.build("CC-Request-Type", 1),
            D.build("CC-Request-Number", 0)])
        ans = await node.request(req, peer=CLIENT, timeout=10)
        assert (str(ans["Origin-Host"]), result_of(ans)) == (CLIENT, ResultCode.UNABLE_TO_DELIVER)
        if inband:  # its CER asked for in-band TLS (Inband-Security-Id 1 = TLS)
            await asyncio.to_thread(fd.wait_for, r"AVP: 'Inband-Security-Id'\(299\).*val='TLS'", 5)
    finally:
        await node.stop(wait=2.0)
