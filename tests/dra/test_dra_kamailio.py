"""Black box: a real IMS registration through the DRA — sipp → Kamailio I-CSCF and S-CSCF (cdp) → sigcore
DRA (`sigcore run`, DRA only) → sigcore HSS (Cx): UAR, MAR and SAR all relayed; tshark judges the Cx on both
sides of the DRA."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ims import kamailio
from ims.hss_fixture import ALICE, Hss, make_hss, make_store
from ims.kamailio import ImsCore, header, run_sipp
from interop.ports import free_tcp_port
from interop.tshark import TsharkFactory, check_pcap, diameter_messages
from sigcore.store.ims import RegState

from .nodes import Nodes

pytestmark = [pytest.mark.interop, pytest.mark.slow]
CX_UAR, CX_MAR, CX_SAR = "300", "303", "301"


@pytest.fixture
async def through_dra(tmp_path: Path, nodes: Nodes,
                      tshark_capture: TsharkFactory) -> AsyncIterator[tuple[Hss, ImsCore, int]]:
    if not kamailio.is_installed():
        pytest.skip("Kamailio IMS or sipp missing (apt-get install kamailio kamailio-ims-modules sip-tester)")
    core = ImsCore(tmp_path / "ims")
    core.workdir.mkdir()
    store = make_store(tmp_path, scscf=core.scscf_uri)
    hss = make_hss(store)
    dra_port = free_tcp_port()
    core.capture = tshark_capture([hss.port, dra_port], name="cx")
    await hss.node.start()
    try:
        # cdp knows its Diameter peer as "localhost" (no DNS here): that peer is now the DRA
        await asyncio.to_thread(nodes.dra, "dra", {"hss.localdomain": hss.port, "icscf.localdomain": 0,
                                                   "scscf.localdomain": 0},
                                {"routes": [{"name": "cx", "application_id": 16777216,
                                             "peers": ["hss.localdomain"]}]}, dra_port)
        core.start(dra_port)
        for peer in ("icscf.localdomain", "scscf.localdomain"):
            await asyncio.to_thread(nodes.wait_open, "dra", peer, 30)
        yield hss, core, dra_port
    finally:
        core.stop()
        await asyncio.to_thread(nodes.stop_all)
        await hss.node.stop()
        store.close()


async def test_kamailio_registers_a_user_through_the_dra(through_dra: tuple[Hss, ImsCore, int],
                                                         tmp_path: Path) -> None:
    hss, core, dra_port = through_dra
    impi, impus, password = ALICE
    result = await asyncio.to_thread(run_sipp, core, tmp_path, "register_digest.xml", user="alice", impi=impi,
                                     password=password)
    assert result.returncode == 0, result.messages[-3000:] + core.log("scscf")[-3000:]
    final = result.final_response()
    assert final.startswith("SIP/2.0 200") and header(final, "Service-Route") is not None
    state = hss.ims.get_impu(impus[0])
    assert state is not None and state.reg_state == RegState.REGISTERED
    assert state.scscf_host == "scscf.localdomain"  # the SAR's Origin-Host, relayed unchanged
    core.stop()
    core.capture.stop()
    ports = [hss.port, dra_port]
    pdus = diameter_messages(core.capture.pcap_path, ports)
    kamailio_sars = {p.frame for p in pdus if p.label == CX_SAR + "R"}  # its private AVP 494: Wireshark warns
    problems = check_pcap(core.capture.pcap_path, ports)
    assert [p for p in problems if p.frame not in kamailio_sars] == []
    for command in (CX_UAR, CX_MAR, CX_SAR):
        on_hss_side = [p for p in pdus if p.label == command + "R" and hss.port in (p.src_port, p.dst_port)]
        on_kamailio_side = [p for p in pdus if p.label == command + "R" and dra_port in (p.src_port, p.dst_port)]
        assert on_hss_side and len(on_hss_side) == len(on_kamailio_side), command
        assert all("Route-Record" in p.avps for p in on_hss_side)
