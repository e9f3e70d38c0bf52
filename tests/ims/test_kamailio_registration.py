"""A real IMS registration: sipp → Kamailio I-CSCF → S-CSCF, Cx to sigcore; deregistration through the REST API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import quote

import pytest

from interop.sigcore_nodes import wait_open
from interop.tshark import TsharkFactory, check_pcap, diameter_messages
from sigcore.store.ims import RegState
from support.usim_model import Accepted, UsimModel, opc_from_op

from . import kamailio
from .hss_fixture import ALICE, CAROL, Hss, add_op_user, make_hss, make_store, provisioning_api
from .kamailio import ImsCore, SippResult, header, run_sipp
from .sip_digest import aka_rand_autn, auth_params, request_digest

pytestmark = [pytest.mark.interop, pytest.mark.slow]

# Cx commands as Wireshark labels them (code + R/A): UAR/UAA, MAR/MAA, SAR/SAA, RTR/RTA
CX_UAR, CX_MAR, CX_SAR, CX_RTR = "300", "303", "301", "304"


@pytest.fixture
async def ims_core(tmp_path: Path, tshark_capture: TsharkFactory) -> AsyncIterator[tuple[Hss, ImsCore]]:
    if not kamailio.is_installed():
        pytest.skip("Kamailio IMS or sipp missing (apt-get install kamailio kamailio-ims-modules sip-tester)")
    core = ImsCore(tmp_path)
    # cdp 5.6 drops a message with an empty Grouped AVP: give the users a preferred S-CSCF, so the UAA's
    # Server-Capabilities is never empty
    store = make_store(tmp_path, scscf=core.scscf_uri)
    add_op_user(store, CAROL, scscf=core.scscf_uri)
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


def _challenge(result: SippResult, algorithm: str) -> dict[str, str]:
    """The parameters of the 401's WWW-Authenticate, which must name `algorithm`."""
    challenge = auth_params(header(result.response(401), "WWW-Authenticate") or "")
    assert challenge["algorithm"] == algorithm, challenge
    return challenge


def _assert_answer(result: SippResult, challenge: dict[str, str], *, username: str, password: bytes) -> None:
    """sipp's second REGISTER answers `challenge` with the RFC 2617 digest the test computes from `password`."""
    answer = [m for m in result.sent() if m.startswith("REGISTER ")][-1]
    credentials = auth_params(header(answer, "Authorization") or "")
    assert credentials["username"] == username and credentials["algorithm"] == challenge["algorithm"]
    assert (credentials["nonce"], credentials["realm"]) == (challenge["nonce"], challenge["realm"])
    qop = credentials.get("qop")
    assert qop is None or qop in challenge["qop"].split(","), credentials
    expected = request_digest(username=username, realm=challenge["realm"], password=password, method="REGISTER",
                              uri=credentials["uri"], nonce=challenge["nonce"], qop=qop,
                              nc=credentials.get("nc", ""), cnonce=credentials.get("cnonce", ""))
    assert credentials["response"] == expected


def _all_deregistered(hss: Hss, impus: list[str]) -> bool:
    states = [hss.ims.get_impu(impu) for impu in impus]
    return all(s is not None and s.reg_state == RegState.NOT_REGISTERED for s in states)


async def _eventually(condition: Callable[[], bool], what: str, attempts: int = 100) -> None:
    """Poll `condition` every 0.1 s until it holds: the RTR is sent after the API's answer, and the S-CSCF
    drops the contact on its own timer."""
    for _ in range(attempts):
        if await asyncio.to_thread(condition):
            return
        await asyncio.sleep(0.1)
    assert await asyncio.to_thread(condition), what


async def test_sip_digest_registration_then_api_deregistration(ims_core: tuple[Hss, ImsCore],
                                                               tmp_path: Path) -> None:
    hss, core = ims_core
    impi, impus, password = ALICE
    result = await asyncio.to_thread(run_sipp, core, tmp_path, "register_digest.xml", user="alice", impi=impi,
                                     password=password)
    assert result.returncode == 0, result.messages[-3000:] + core.log("scscf")[-3000:]
    # the test's digest arithmetic agrees with sipp's where the password is known: the check the AKA run relies on
    _assert_answer(result, _challenge(result, "MD5"), username=impi, password=password.encode())
    final = result.final_response()
    assert final.startswith("SIP/2.0 200")
    assert _associated(final) == impus  # the implicit set, default identity first
    assert header(final, "Service-Route") is not None
    for impu in impus:
        state = hss.ims.get_impu(impu)
        assert state is not None and state.reg_state == RegState.REGISTERED
        assert state.scscf_name == core.scscf_uri and state.scscf_host == "scscf.localdomain"
    assert "alice@127.0.0.1" in core.rpc("ulscscf.showimpu", impus[0])

    # An operator deregisters the tel: identity over HTTP; the RTR names the IMPI's whole implicit set
    async with provisioning_api(hss) as api:
        accepted = await api.post(f"/ims/public-identities/{quote(impus[1], safe='')}/deregister")
        assert accepted.status_code == 202, accepted.text
        assert accepted.json() == {"impu": impus[1], "private_identities": [impi], "scscf_host": "scscf.localdomain"}
        # the RTR goes out after the answer; the store is cleared once the RTA says 2001
        await _eventually(lambda: _all_deregistered(hss, impus), "still registered in the store after the RTR")
    after = hss.ims.get_impu(impus[0])
    assert after is not None and after.scscf_name is None and after.scscf_host is None
    await _eventually(lambda: "alice@127.0.0.1" not in core.rpc("ulscscf.showimpu", impus[0]),
                      "the S-CSCF still holds alice's contact after the RTR")

    # The whole Cx exchange as Wireshark decodes it: no malformed frame, every command of the run present
    core.capture.stop()
    ports = [hss.port, core.icscf_diameter, core.scscf_diameter]
    pdus = diameter_messages(core.capture.pcap_path, ports)
    # Kamailio's SAR carries its private AVP 494 (vendor 50, the Call-ID): Wireshark warns about an
    # unknown AVP and vendor there. Anything else, in particular in what sigcore sends, would be ours.
    kamailio_sars = {p.frame for p in pdus if p.label == CX_SAR + "R"}
    problems = check_pcap(core.capture.pcap_path, ports)
    assert [p for p in problems if p.frame not in kamailio_sars] == []
    assert all("Unknown" in p.message for p in problems)
    labels = {m.label for m in pdus}
    for command in (CX_UAR, CX_MAR, CX_SAR, CX_RTR):
        for expected in (command + "R", command + "A"):
            assert expected in labels, f"{expected} missing from the capture: {sorted(labels)}"


async def test_aka_registration_checked_with_usim_model(ims_core: tuple[Hss, ImsCore], tmp_path: Path) -> None:
    hss, core = ims_core
    impi, impus = CAROL.impi, CAROL.impus
    result = await asyncio.to_thread(run_sipp, core, tmp_path, "register_aka.xml", user="carol", impi=impi,
                                     aka_k=CAROL.k.decode(), aka_op=CAROL.op.decode(), aka_amf=CAROL.amf.decode())
    assert result.returncode == 0, result.stderr[-2000:] + result.messages[-3000:] + core.log("scscf")[-3000:]

    # The challenge, as the USIM model sees it: AUTN must be genuine and fresh
    challenge = _challenge(result, "AKAv1-MD5")
    usim = UsimModel(CAROL.k, opc_from_op(CAROL.k, CAROL.op))
    outcome = usim.authenticate(*aka_rand_autn(challenge["nonce"]))
    assert isinstance(outcome, Accepted)
    # Kamailio's S-CSCF puts the vector's CK and IK in the 401 for its P-CSCF: the USIM derives the same keys
    assert (challenge["ck"], challenge["ik"]) == (outcome.ck.hex(), outcome.ik.hex())

    # sipp's answer is RFC 3310's: the digest of the challenge with the USIM's RES as the password
    _assert_answer(result, challenge, username=impi, password=outcome.res)

    final = result.final_response()
    assert final.startswith("SIP/2.0 200"), final + core.log("scscf")[-3000:]
    assert _associated(final) == impus
    assert header(final, "Service-Route") is not None
    state = hss.ims.get_impu(impus[0])
    assert state is not None and state.reg_state == RegState.REGISTERED
    # The SQN the USIM accepted is the one the store reserved (shared with S6a).
    assert hss.store.get_auth_material(CAROL.imsi).sqn == outcome.sqn
