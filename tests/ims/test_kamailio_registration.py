"""A real IMS registration: sipp / a USIM-backed SIP client → Kamailio I-CSCF → S-CSCF, Cx to sigcore."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from interop.sigcore_nodes import wait_open
from interop.tshark import TsharkFactory, check_pcap, diameter_messages
from sigcore.hss.ims.codes import ReasonCode
from sigcore.store.ims import RegState
from usim_model import Accepted, UsimModel

from . import kamailio
from .hss_fixture import ALICE, BOB, OPC, Hss, K, make_hss, make_store
from .kamailio import AkaSipClient, ImsCore, header, rand_autn, run_sipp_digest

pytestmark = [pytest.mark.interop, pytest.mark.slow]


@pytest.fixture
async def ims_core(tmp_path: Path, tshark_capture: TsharkFactory) -> AsyncIterator[tuple[Hss, ImsCore]]:
    if not kamailio.is_installed():
        pytest.skip("Kamailio IMS or sipp missing (apt-get install kamailio kamailio-ims-modules sip-tester)")
    core = ImsCore(tmp_path)
    # cdp 5.6 drops a message with an empty Grouped AVP: give the users a preferred S-CSCF, so the UAA's
    # Server-Capabilities is never empty
    store = make_store(tmp_path, scscf=core.scscf_uri)
    hss = make_hss(store)
    core.capture = tshark_capture([hss.port, core.icscf_diameter, core.scscf_diameter], name="cx")
    await hss.node.start()
    try:
        core.start(hss.port)
        for peer in ("icscf.localdomain", "scscf.localdomain"):
            await wait_open(hss.node, peer, timeout=20)
        yield hss, core
    finally:
        core.stop()
        await hss.node.stop()
        store.close()


def _associated(response: str) -> list[str]:
    value = header(response, "P-Associated-URI") or ""
    return [part.strip().strip("<>") for part in value.split(",") if part.strip()]


async def test_sip_digest_registration_then_rtr(ims_core: tuple[Hss, ImsCore], tmp_path: Path) -> None:
    hss, core = ims_core
    impi, impus, password = ALICE
    result = await asyncio.to_thread(run_sipp_digest, core, tmp_path, user="alice", impi=impi, password=password)
    assert result.returncode == 0, result.messages[-3000:] + core.log("scscf")[-3000:]
    assert "401 Unauthorized" in result.messages and 'algorithm=MD5' in result.messages
    final = result.final_response()
    assert final.startswith("SIP/2.0 200")
    assert _associated(final) == impus  # the implicit set, default identity first
    assert header(final, "Service-Route") is not None
    for impu in impus:
        state = hss.ims.get_impu(impu)
        assert state is not None and state.reg_state == RegState.REGISTERED
        assert state.scscf_name == core.scscf_uri and state.scscf_host == "scscf.localdomain"
    assert "alice@127.0.0.1" in core.rpc("ulscscf.showimpu", impus[0])

    results = await hss.cx.deregister(impi, ReasonCode.PERMANENT_TERMINATION)
    assert results == [2001]
    after = hss.ims.get_impu(impus[0])
    assert after is not None and after.reg_state == RegState.NOT_REGISTERED and after.scscf_name is None
    for _ in range(50):  # the S-CSCF drops the contact when it handles the RTR
        if "alice@127.0.0.1" not in core.rpc("ulscscf.showimpu", impus[0]):
            break
        await asyncio.sleep(0.1)
    assert "alice@127.0.0.1" not in core.rpc("ulscscf.showimpu", impus[0])

    # The whole Cx exchange as Wireshark decodes it: no malformed frame, every command of the run present
    core.capture.stop()
    ports = [hss.port, core.icscf_diameter, core.scscf_diameter]
    pdus = diameter_messages(core.capture.pcap_path, ports)
    # Kamailio's SAR carries its private AVP 494 (vendor 50, the Call-ID): Wireshark warns about an
    # unknown AVP and vendor there. Anything else, in particular in what sigcore sends, would be ours.
    kamailio_sars = {p.frame for p in pdus if p.label == "301R"}
    problems = check_pcap(core.capture.pcap_path, ports)
    assert [p for p in problems if p.frame not in kamailio_sars] == []
    assert all("Unknown" in p.message for p in problems)
    labels = {m.label for m in pdus}
    for expected in ("300R", "300A", "303R", "303A", "301R", "301A", "304R", "304A"):
        assert expected in labels, f"{expected} missing from the capture: {sorted(labels)}"


async def test_aka_registration_with_usim_model(ims_core: tuple[Hss, ImsCore]) -> None:
    hss, core = ims_core
    impi, impus = BOB
    usim = UsimModel(K, OPC)
    client = AkaSipClient(core, "bob", impi)
    try:
        challenge_response = await asyncio.to_thread(client.register, client.initial_authorization())
        assert challenge_response.startswith("SIP/2.0 401"), challenge_response
        challenge = header(challenge_response, "WWW-Authenticate") or ""
        assert "AKAv1-MD5" in challenge
        outcome = usim.authenticate(*rand_autn(challenge))
        assert isinstance(outcome, Accepted)
        final = await asyncio.to_thread(client.register, client.answer(challenge, outcome.res))
    finally:
        client.close()
    assert final.startswith("SIP/2.0 200"), final + core.log("scscf")[-3000:]
    assert _associated(final) == impus
    assert header(final, "Service-Route") is not None
    state = hss.ims.get_impu(impus[0])
    assert state is not None and state.reg_state == RegState.REGISTERED
    # The SQN the USIM accepted is the one the store reserved (shared with S6a).
    assert hss.store.get_auth_material("001010000000002").sqn == outcome.sqn
