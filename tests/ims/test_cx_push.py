"""HSS-initiated Cx requests over TCP: PPR after a profile change, RTR for an administrative
deregistration, both to the S-CSCF that registered the user (a sigcore node playing the S-CSCF)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from interop.sigcore_nodes import wait_open
from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.aio import Node, NodeSettings, RequestContext
from sigcore.diameter.aio.node import PeerSettings
from sigcore.diameter.answers import Identity
from sigcore.diameter.application import answer as diameter_answer
from sigcore.diameter.message import Message
from sigcore.hss.application import application_avps
from sigcore.hss.ims.codes import CX_APP, VENDOR, AssignmentType, CxCommand
from sigcore.hss.ims.documents import validate_cx
from sigcore.store.ims import RegState

from .hss_fixture import ALICE, HSS_HOST, REALM, make_hss, make_store

SCSCF_HOST = "scscf.localdomain"
SCSCF = "sip:scscf.localdomain:6060"


def scscf_node(hss_port: int, received: list[Message]) -> Node:
    node = Node(NodeSettings(Identity(SCSCF_HOST, REALM), listen=[],
                             peers=[PeerSettings(HSS_HOST, "127.0.0.1", hss_port, "connect")]))

    def answer(req: Message, ctx: RequestContext) -> Message:
        received.append(req)
        return diameter_answer(req, ctx.node.identity, 2001, list(application_avps(CX_APP)))

    node.register(CX_APP, CxCommand.RTR, answer, VENDOR)
    node.register(CX_APP, CxCommand.PPR, answer, VENDOR)
    return node


def _sar(impi: str, impu: str) -> Message:
    return Message(CxCommand.SAR, CX_APP, 0xC0, 0, 0, D.build_many([
        ("Session-Id", "scscf;1"), ("Vendor-Specific-Application-Id", [("Vendor-Id", 10415),
                                                                      ("Auth-Application-Id", CX_APP)]),
        ("Auth-Session-State", 1), ("Origin-Host", SCSCF_HOST), ("Origin-Realm", REALM),
        ("Destination-Realm", REALM), ("User-Name", impi), ("Public-Identity", impu),
        ("Server-Name", SCSCF), ("Server-Assignment-Type", AssignmentType.REGISTRATION),
        ("User-Data-Already-Available", 0)]))


async def test_rtr_and_ppr_to_a_gone_scscf_are_one_warning_each(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    store = make_store(tmp_path)
    hss = make_hss(store)
    scscf = scscf_node(hss.port, [])
    await hss.node.start()
    await scscf.start()
    try:
        await wait_open(hss.node, SCSCF_HOST)
        impi, impus, _ = ALICE
        assert (await scscf.request(_sar(impi, impus[0])))["Result-Code"] == 2001
        await scscf.stop()  # no peer of this realm left: neither by name nor by realm
        with caplog.at_level(logging.WARNING, "sigcore.hss.cx.handlers"):
            assert await hss.cx.push_profile(impi) == [None]
            assert await hss.cx.deregister(impi) == [None]
        records = [r for r in caplog.records if r.name == "sigcore.hss.cx.handlers"]
        said = [r.getMessage().split(" not delivered: ") for r in records]
        assert [s[0] for s in said] == [f"PPR for IMPI {impi} to {SCSCF_HOST}", f"RTR for IMPI {impi} to {SCSCF_HOST}"]
        assert all(s[1] for s in said) and not any(r.exc_info for r in records)  # a reason, no traceback
        assert hss.ims.get_impu(impus[0]).reg_state == RegState.REGISTERED  # type: ignore[union-attr]
    finally:
        await hss.node.stop()
        store.close()


async def test_ppr_then_rtr_reach_the_serving_scscf(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    hss = make_hss(store)
    received: list[Message] = []
    scscf = scscf_node(hss.port, received)
    await hss.node.start()
    await scscf.start()
    try:
        await wait_open(hss.node, SCSCF_HOST)
        impi, impus, _ = ALICE
        saa = await scscf.request(_sar(impi, impus[0]))
        assert saa["Result-Code"] == 2001

        hss.ims.update_profile("default", ccf_primary="aaa://ccf.localdomain")
        assert await hss.cx.push_profile(impi) == [2001]
        ppr = received[-1]
        assert ppr.code == CxCommand.PPR and ppr["Destination-Host"] == SCSCF_HOST and ppr["User-Name"] == impi
        validate_cx(ppr["User-Data"])
        assert ppr["Charging-Information"]["Primary-Charging-Collection-Function-Name"] == "aaa://ccf.localdomain"

        assert await hss.cx.deregister(impi) == [2001]
        rtr = received[-1]
        assert rtr.code == CxCommand.RTR and rtr["Deregistration-Reason"]["Reason-Code"] == 0
        assert D.get_values(rtr.avps, "Public-Identity") == impus
        assert all(hss.ims.get_impu(i).reg_state == RegState.NOT_REGISTERED for i in impus)  # type: ignore[union-attr]
    finally:
        await scscf.stop()
        await hss.node.stop()
        store.close()
