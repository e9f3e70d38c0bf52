"""Cx on the HSS batch worker: what the fast path must keep (SQNs shared with S6a, no write on
re-registration, profile changes seen at once, a wrong AUTS changes nothing but the normal reservation)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.answers import result_of
from sigcore.diameter.constants import ResultCode
from sigcore.diameter.errors import DiameterError
from sigcore.hss.auc import next_sqns
from sigcore.hss.auth import VectorRequest
from sigcore.hss.cx.handlers import CxService
from sigcore.hss.ims.codes import AssignmentType, CxCommand, CxResult
from sigcore.hss.ims.request_fields import first_values, need
from sigcore.store import ims as ims_store
from sigcore.store.ims import Ifc, ImsStore, RegState, ShSubscription
from sigcore.store.ims_models import impus, links
from sigcore.toolkit import plmn
from support.handlers import served
from support.usim_model import Accepted, UsimModel

from .hss_fixture import ALICE, BOB, BOB_IMSI, OPC, REALM, K, make_store
from .test_cx import CTX, SCSCF, _req, mar, sar


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


async def test_unregistered_services_follow_a_profile_change(cx: CxService) -> None:
    """Whether the profile has services for the unregistered state is cached with the profile: an iFC for the
    unregistered part added elsewhere turns the next deregistration into 'unregistered', not 'not registered'."""
    impi, public, _ = ALICE
    assert result_of(await sar(cx, public[0], AssignmentType.REGISTRATION, impi)) == 2001
    assert result_of(await sar(cx, public[0], AssignmentType.USER_DEREGISTRATION, impi)) == 2001
    assert _state(cx, public[0]) == RegState.NOT_REGISTERED
    ImsStore(cx.store).add_ifc("default", Ifc(1, "sip:voicemail.localdomain", profile_part=1))
    assert result_of(await sar(cx, public[0], AssignmentType.REGISTRATION, impi)) == 2001
    assert result_of(await sar(cx, public[0], AssignmentType.USER_DEREGISTRATION, impi)) == 2001
    assert _state(cx, public[0]) == RegState.UNREGISTERED


async def test_a_sar_naming_several_public_identities_registers_each_set(cx: CxService) -> None:
    """Every Public-Identity of a SAR is read (not only the first): each named set gets the new state."""
    cx.ims.add_user("carol@localdomain", ["sip:carol@localdomain"], password="c", scscf=SCSCF)
    cx.ims.add_user("carol.work@localdomain", ["sip:carol.work@localdomain"], password="c", scscf=SCSCF)
    with cx.store.writing() as conn:  # a second set for carol's IMPI (a user with two implicit sets)
        work = conn.execute(impus.select().where(impus.c.impu == "sip:carol.work@localdomain")).one()
        conn.execute(links.insert().values(impi_id=cx.ims.get_impi("carol@localdomain").id, impu_id=work.id))
    answer = await served(cx.application(), _req(CxCommand.SAR, ("User-Name", "carol@localdomain"),
                                  ("Public-Identity", "sip:carol@localdomain"),
                                  ("Public-Identity", "sip:carol.work@localdomain"), ("Server-Name", SCSCF),
                                  ("Server-Assignment-Type", AssignmentType.REGISTRATION),
                                  ("User-Data-Already-Available", 0)), CTX)
    assert result_of(answer) == 2001
    assert _state(cx, "sip:carol@localdomain") == _state(cx, "sip:carol.work@localdomain") == RegState.REGISTERED


def test_first_values_reads_each_name_once_and_repeated_ones_all() -> None:
    req = _req(CxCommand.SAR, ("User-Name", "a@x"), ("Public-Identity", "sip:a@x"), ("User-Name", "b@x"),
               ("Public-Identity", "tel:+1"))
    found = first_values(req, ("User-Name", "Server-Name", "Origin-Host"), ("Public-Identity",))
    assert found == {"User-Name": "a@x", "Origin-Host": "scscf.localdomain",
                     "Public-Identity": ["sip:a@x", "tel:+1"]}
    with pytest.raises(DiameterError) as missing:
        need(found, "Server-Name")
    assert missing.value.result_code == ResultCode.MISSING_AVP
    assert [a.code for a in missing.value.failed_avps] == [D.avp("Server-Name").code]


def test_sh_subscriptions_without_subscribers_and_one_time_ones(cx: CxService) -> None:
    """The registration change of every SAR asks for Sh subscriptions: none is a read, and a one-time
    subscription is still handed out once and then gone."""
    alice = cx.ims.get_impu(ALICE[1][0])
    assert alice is not None
    assert cx.ims.subscriptions(alice, 11) == []
    cx.ims.subscribe(ShSubscription(alice.impu, "as.localdomain", REALM, 11, "", None, one_time=True))
    assert [s.as_host for s in cx.ims.subscriptions(alice, 11)] == ["as.localdomain"]
    assert cx.ims.subscriptions(alice, 11) == []


def _state(cx: CxService, uri: str) -> RegState:
    found = cx.ims.get_impu(uri)
    assert found is not None
    return found.reg_state


async def test_a_write_drops_only_the_read_ahead_views_it_touched(cx: CxService,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch reads every view with one query; alice's registration makes alice's later request in the
    batch read again (it must see the write), while bob's requests keep the view read ahead."""
    own_reads: list[str] = []
    per_request = ims_store._raw_rows
    monkeypatch.setattr(ims_store, "_raw_rows", lambda conn, statement, params: (
        own_reads.append(params["uri"]), per_request(conn, statement, params))[1])
    alice, bob = ALICE[1][0], BOB[1][0]
    lir = _req(CxCommand.LIR, ("Public-Identity", bob))
    answers = await asyncio.gather(
        served(cx.application(), lir, CTX), sar(cx, alice, AssignmentType.REGISTRATION, ALICE[0]),
        served(cx.application(), lir, CTX),
        sar(cx, alice, AssignmentType.UNREGISTERED_USER, server="sip:other.localdomain:6060"))
    assert [result_of(a) for a in answers] == [CxResult.IDENTITY_NOT_REGISTERED, 2001,
                                               CxResult.IDENTITY_NOT_REGISTERED, CxResult.IDENTITY_ALREADY_REGISTERED]
    assert own_reads == [alice]  # only the request after the write that touched it reads again
