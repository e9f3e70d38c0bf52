"""Cx on the HSS batch worker: what the fast path must keep (SQNs shared with S6a, no write on
re-registration, profile changes seen at once, a wrong AUTS changes nothing but the normal reservation)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.answers import result_of
from sigcore.hss.auc import next_sqns
from sigcore.hss.auth import VectorRequest
from sigcore.hss.cx import CxService
from sigcore.hss.ims.codes import AssignmentType, CxResult
from sigcore.store.ims import ImsStore, RegState
from sigcore.store.ims_models import impus
from sigcore.toolkit import plmn
from usim_model import Accepted, UsimModel

from .hss_fixture import ALICE, BOB, BOB_IMSI, OPC, K, make_store
from .test_cx import SCSCF, mar, sar


@pytest.fixture
async def cx(tmp_path: Path) -> AsyncIterator[CxService]:
    service = CxService(make_store(tmp_path, scscf=SCSCF))
    yield service
    await service.close()


def _changed_at(cx: CxService) -> dict[str, object]:
    with cx.store.engine.connect() as conn:
        return {r.impu: r.state_changed_at for r in conn.execute(impus.select())}


async def test_re_registration_writes_nothing_but_still_answers_user_data(cx: CxService) -> None:
    impi, public, _ = ALICE
    assert result_of(await sar(cx, public[0], AssignmentType.REGISTRATION, impi)) == 2001
    registered = _changed_at(cx)
    assert registered[public[0]] is not None
    again = await sar(cx, public[0], AssignmentType.RE_REGISTRATION, impi)
    assert result_of(again) == 2001 and b"<PrivateID>alice@localdomain</PrivateID>" in again["User-Data"]
    assert _changed_at(cx) == registered  # same state, same S-CSCF: no write
    moved = await sar(cx, public[0], AssignmentType.RE_REGISTRATION, impi, server="sip:other.localdomain:6060")
    assert result_of(moved) == 2001
    stored = cx.ims.get_impu(public[0])
    assert stored is not None and stored.scscf_name == "sip:other.localdomain:6060"
    assert stored.reg_state == RegState.REGISTERED


async def test_profile_change_by_another_ims_store_is_seen_at_once(cx: CxService) -> None:
    impi, public, _ = ALICE
    first = await sar(cx, public[0], AssignmentType.REGISTRATION, impi)
    assert first.get("Charging-Information") is None
    ImsStore(cx.store).update_profile("default", ccf_primary="aaa://ccf.localdomain")  # e.g. the REST API's
    second = await sar(cx, public[0], AssignmentType.RE_REGISTRATION, impi)
    assert second["Charging-Information"]["Primary-Charging-Collection-Function-Name"] == "aaa://ccf.localdomain"


async def test_concurrent_mar_and_air_never_share_an_sqn(cx: CxService) -> None:
    """MARs and S6a AIRs for one USIM in the same batches: every vector on its own SQN, all accepted."""
    impi, public = BOB
    home = plmn.encode("001", "01")
    maas, airs = await asyncio.gather(
        asyncio.gather(*(mar(cx, impi, public[0], "Digest-AKAv1-MD5", n=2) for _ in range(10))),
        asyncio.gather(*(cx.auth.vectors(VectorRequest(BOB_IMSI, home, eutran=1)) for _ in range(10))))
    usim = UsimModel(K, OPC)
    sqns = []
    for maa in maas:
        assert result_of(maa) == 2001
        for item in D.get_values(maa.avps, "SIP-Auth-Data-Item"):
            outcome = usim.authenticate(item["SIP-Authenticate"][:16], item["SIP-Authenticate"][16:])
            assert isinstance(outcome, Accepted) and outcome.res == item["SIP-Authorization"]
            sqns.append(outcome.sqn)
    sqns += [v.sqn for vectors in airs for v in vectors.eutran]
    assert len(sqns) == 30 and len(set(sqns)) == 30
    assert cx.store.get_auth_material(BOB_IMSI).sqn == max(sqns)


async def test_wrong_auts_keeps_the_sqn_and_still_answers(cx: CxService) -> None:
    impi, public = BOB
    before = cx.store.get_auth_material(BOB_IMSI).sqn
    maa = await mar(cx, impi, public[0], "Digest-AKAv1-MD5", authorization=bytes(16) + b"\x01" * 14)
    assert result_of(maa) == 2001 and maa["SIP-Number-Auth-Items"] == 1
    assert cx.store.get_auth_material(BOB_IMSI).sqn == next_sqns(before, 1)[-1]


async def test_requests_of_one_batch_see_each_others_writes(cx: CxService) -> None:
    """Views read ahead for a batch are dropped by a write: the later SAR sees the earlier registration."""
    cx.kind.ims = cx.ims  # read ahead on SQLite too (by default only server databases do)
    alice, bob = ALICE[1][0], BOB[1][0]
    answers = await asyncio.gather(
        sar(cx, bob, AssignmentType.REGISTRATION, BOB[0]),
        sar(cx, alice, AssignmentType.REGISTRATION, ALICE[0]),
        sar(cx, alice, AssignmentType.UNREGISTERED_USER, server="sip:other.localdomain:6060"),
        sar(cx, bob, AssignmentType.RE_REGISTRATION, BOB[0]))
    assert [result_of(a) for a in answers] == [2001, 2001, CxResult.IDENTITY_ALREADY_REGISTERED, 2001]
    stored = cx.ims.get_impu(alice)
    assert stored is not None and stored.scscf_name == SCSCF and stored.reg_state == RegState.REGISTERED
