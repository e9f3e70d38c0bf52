"""S6a procedures against a sigcore HSS on TCP, driven by python-diameter MMEs (an independent client).

Every vector is checked by the independent USIM model (tests/support/usim_model.py): MAC-A, RES = XRES, KASME.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sigcore.store import ApnRequest, Store
from sigcore.toolkit import plmn, tbcd
from support.s6a import (
    HOME_PLMN,
    IMSI,
    OPC,
    HssThread,
    K,
    air,
    experimental,
    mme,
    new_kek,
    nor,
    provision,
    pur,
    sqlite_url,
    ulr,
)
from support.usim_model import Accepted, SyncFailure, UsimModel

pytestmark = [pytest.mark.interop]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = provision(sqlite_url(tmp_path), new_kek(), msisdn="15550100001", apns=["internet", "ims"],
                  ue_ambr_ul=50_000_000, ue_ambr_dl=100_000_000)
    s.update_apn("internet", qci=8, arp_priority=2, pgw_address="10.0.0.5", pgw_host="pgw.localdomain",
                 charging_characteristics="0800", ambr_ul=1000, ambr_dl=2000)
    yield s
    s.close()


@pytest.fixture
def hss(store: Store) -> Iterator[HssThread]:
    with HssThread(store, {"max_vectors": 4}) as running:
        yield running


def test_air_vectors_pass_the_usim_model(hss: HssThread) -> None:
    usim = UsimModel(K, OPC)
    with mme("mme1.localdomain", hss.port) as mme1:
        mme1.wait_ready()
        aia = air(mme1, vectors=9)  # more than hss.max_vectors (4): capped
        assert aia.result_code == 2001
        vectors = aia.authentication_info.e_utran_vector
        assert [v.item_number for v in vectors] == [1, 2, 3, 4]
        for v in vectors:
            outcome = usim.authenticate_eutran(v.rand, v.autn, HOME_PLMN)
            assert isinstance(outcome, Accepted)
            assert outcome.res == v.xres and outcome.kasme == v.kasme
        assert len({v.rand for v in vectors}) == 4
        assert hss.store.get_auth_material(IMSI).sqn == usim.sqn_ms


def test_kasme_uses_the_visited_plmn(hss: HssThread) -> None:
    visited = plmn.encode("310", "260")
    usim = UsimModel(K, OPC)
    hss.store.set_roaming_rule("310260", True)
    with mme("mme1.localdomain", hss.port) as mme1:
        mme1.wait_ready()
        v = air(mme1, plmn_id=visited).authentication_info.e_utran_vector[0]
        outcome = usim.authenticate_eutran(v.rand, v.autn, visited)
        assert isinstance(outcome, Accepted) and outcome.kasme == v.kasme


def test_utran_quintuplets_when_asked(hss: HssThread) -> None:
    usim = UsimModel(K, OPC)
    with mme("sgsn1.localdomain", hss.port) as sgsn:
        sgsn.wait_ready()
        aia = air(sgsn, vectors=1, utran=2)
        quintuplets = aia.authentication_info.utran_vector
        assert len(quintuplets) == 2
        for q in quintuplets:
            outcome = usim.authenticate(q.rand, q.autn)
            assert isinstance(outcome, Accepted)
            assert (outcome.res, outcome.ck, outcome.ik) == (q.xres, q.confidentiality_key, q.integrity_key)
            assert not q.autn[6] & 0x80  # no E-UTRAN separation bit in a UMTS vector


def test_unknown_imsi_is_5001_and_keeps_the_s6a_application(hss: HssThread) -> None:
    with mme("mme1.localdomain", hss.port) as mme1:
        mme1.wait_ready()
        for answer in (air(mme1, imsi="001019999999999"), ulr(mme1, imsi="001019999999999"),
                       pur(mme1, imsi="001019999999999")):
            assert experimental(answer) == 5001
            assert answer.header.application_id == 16777251
            assert answer.vendor_specific_application_id.auth_application_id == 16777251
            assert answer.auth_session_state == 1


def test_forged_auts_resets_nothing_and_genuine_one_resynchronises(hss: HssThread) -> None:
    """TS 33.102 §6.3.5: an AUTS whose MAC-S fails does not reset SQN_HE, and the AIA still carries
    vectors (step 6), built on the kept SQN; so the card, still ahead, refuses them again."""
    usim = UsimModel(K, OPC)
    usim.seq_ms = [1000] * len(usim.seq_ms)  # the card is far ahead of the HSS (SQN 0)
    with mme("mme1.localdomain", hss.port) as mme1:
        mme1.wait_ready()
        v = air(mme1).authentication_info.e_utran_vector[0]
        failure = usim.authenticate_eutran(v.rand, v.autn, HOME_PLMN)
        assert isinstance(failure, SyncFailure)
        stored = hss.store.get_auth_material(IMSI).sqn

        forged = failure.auts[:6] + bytes(8)
        kept = air(mme1, resync=v.rand + forged)
        assert kept.result_code == 2001
        v1 = kept.authentication_info.e_utran_vector[0]
        assert isinstance(usim.authenticate_eutran(v1.rand, v1.autn, HOME_PLMN), SyncFailure)
        after = hss.store.get_auth_material(IMSI).sqn
        assert stored < after < 1000 << 5  # advanced by the new vector, not reset to the card's SQN_MS

        resynced = air(mme1, resync=v.rand + failure.auts)
        assert resynced.result_code == 2001
        v2 = resynced.authentication_info.e_utran_vector[0]
        outcome = usim.authenticate_eutran(v2.rand, v2.autn, HOME_PLMN)
        assert isinstance(outcome, Accepted) and outcome.kasme == v2.kasme


def test_ulr_subscription_data(hss: HssThread) -> None:
    hss.store.update_subscriber(IMSI, apns=["internet", ApnRequest("ims", static_ipv4="10.45.0.9")])
    with mme("mme1.localdomain", hss.port) as mme1:
        mme1.wait_ready()
        ula = ulr(mme1)
        assert ula.result_code == 2001
        assert ula.ula_flags == 1
        sd = ula.subscription_data
        assert tbcd.decode(sd.msisdn) == "15550100001"
        assert sd.subscriber_status == 0
        assert (sd.ambr.max_requested_bandwidth_ul, sd.ambr.max_requested_bandwidth_dl) == (50_000_000, 100_000_000)
        profile = sd.apn_configuration_profile
        assert profile.all_apn_configurations_included_indicator == 0
        by_name = {c.service_selection: c for c in profile.apn_configuration}
        assert set(by_name) == {"internet", "ims"}
        assert profile.context_identifier == by_name["internet"].context_identifier
        internet = by_name["internet"]
        assert internet.eps_subscribed_qos_profile.qos_class_identifier == 8
        arp = internet.eps_subscribed_qos_profile.allocation_retention_priority
        assert (arp.priority_level, arp.pre_emption_capability, arp.pre_emption_vulnerability) == (2, 1, 0)
        assert internet.mip6_agent_info.mip_home_agent_address == (1, "10.0.0.5")  # (family, address)
        assert by_name["ims"].served_party_ip_address == [(1, "10.45.0.9")]
        assert internet.served_party_ip_address in (None, [])
        # python-diameter 0.9.0 defines MIP-Home-Agent-Host with Origin-*; RFC 5447 §4.2.5 says Destination-*
        host = {a.code: a.value for a in internet.mip6_agent_info.mip_home_agent_host.additional_avps}
        assert (host[293], host[283]) == (b"pgw.localdomain", b"localdomain")
        assert internet.tgpp_charging_characteristics in ("0800", b"0800")
        assert (internet.ambr.max_requested_bandwidth_ul, internet.ambr.max_requested_bandwidth_dl) == (1000, 2000)
        assert hss.store.get_serving(IMSI).mme.host == "mme1.localdomain"


def test_ulr_with_blank_msisdn_and_skip_subscriber_data(hss: HssThread) -> None:
    hss.store.update_subscriber(IMSI, msisdn=None)
    with mme("mme1.localdomain", hss.port) as mme1:
        mme1.wait_ready()
        ula = ulr(mme1)
        assert ula.result_code == 2001 and ula.subscription_data.msisdn is None
        skipped = ulr(mme1, flags=0b110)  # S6a indicator + Skip-Subscriber-Data
        assert skipped.result_code == 2001 and skipped.subscription_data is None


def test_ulr_rejections(hss: HssThread) -> None:
    store = hss.store
    with mme("mme1.localdomain", hss.port) as mme1:
        mme1.wait_ready()
        store.update_subscriber(IMSI, access_restriction=1 << 4)  # WB-E-UTRAN not allowed
        hss.hss.handlers.profiles.invalidate()
        assert experimental(ulr(mme1)) == 5421
        store.update_subscriber(IMSI, access_restriction=0, roaming_policy="home_only")
        hss.hss.handlers.profiles.invalidate()
        assert experimental(ulr(mme1, plmn_id=plmn.encode("001", "010"))) == 5004  # same MCC, other network
        assert ulr(mme1).result_code == 2001
        store.update_subscriber(IMSI, roaming_policy="rules")
        store.set_roaming_rule("001010", True)
        hss.hss.handlers.profiles.invalidate()
        hss.hss.handlers.roaming.invalidate()
        assert ulr(mme1, plmn_id=plmn.encode("001", "010")).result_code == 2001
        assert experimental(ulr(mme1, plmn_id=plmn.encode("001", "02"))) == 5004
        store.update_subscriber(IMSI, apns=[])
        hss.hss.handlers.profiles.invalidate()
        assert experimental(ulr(mme1)) == 5420


@pytest.mark.parametrize("rat", [4242, 999, 2004, -1])
def test_ulr_with_a_rat_type_outside_the_spec_is_5004(hss: HssThread, rat: int) -> None:
    """TS 29.212 §5.3.31 lists the RAT-Types; any other is DIAMETER_INVALID_AVP_VALUE with the AVP echoed."""
    with mme("mme1.localdomain", hss.port) as mme1:
        mme1.wait_ready()
        refused = ulr(mme1, rat=rat)
        assert refused.result_code == 5004
        (failed,) = [avp for avp in refused.avps if avp.code == 279]  # Failed-AVP holding the RAT-Type
        assert [inner.code for inner in failed.value] == [1032]
        assert hss.store.get_serving(IMSI).mme is None  # nothing was written
        assert ulr(mme1).result_code == 2001


def test_pur_and_nor(hss: HssThread) -> None:
    with mme("mme1.localdomain", hss.port) as mme1, mme("mme2.localdomain", hss.port) as mme2:
        mme1.wait_ready()
        mme2.wait_ready()
        assert ulr(mme1).result_code == 2001
        assert experimental(nor(mme2)) == 5423  # not the serving node
        assert nor(mme1).result_code == 2001
        not_serving = pur(mme2)
        assert not_serving.result_code == 2001 and not_serving.pua_flags == 0
        assert not hss.store.get_serving(IMSI).mme.purged
        purged = pur(mme1)
        assert purged.result_code == 2001 and purged.pua_flags == 1  # freeze M-TMSI
        assert hss.store.get_serving(IMSI).mme.purged


def test_serving_mme_change_sends_clr_to_the_old_mme(hss: HssThread) -> None:
    with mme("mme1.localdomain", hss.port) as mme1, mme("mme2.localdomain", hss.port) as mme2:
        mme1.wait_ready()
        mme2.wait_ready()
        assert ulr(mme1).result_code == 2001
        assert ulr(mme1).result_code == 2001  # same MME again: no CLR
        assert ulr(mme2, flags=0b10).result_code == 2001
        clr = mme1.next_request(timeout=10)
        assert clr.header.command_code == 317
        assert clr.user_name == IMSI
        assert clr.cancellation_type == 0  # MME_UPDATE_PROCEDURE
        assert clr.destination_host == b"mme1.localdomain"
        assert mme1.requests.empty() and mme2.requests.empty()
        assert hss.store.get_serving(IMSI).mme.host == "mme2.localdomain"


def test_ulr_does_not_wait_for_an_old_mme_that_is_gone(hss: HssThread, caplog: pytest.LogCaptureFixture) -> None:
    with mme("mme1.localdomain", hss.port) as mme1:
        mme1.wait_ready()
        assert ulr(mme1).result_code == 2001
    with mme("mme2.localdomain", hss.port) as mme2, caplog.at_level("WARNING", "sigcore.hss.s6a.notify"):
        mme2.wait_ready()
        assert ulr(mme2).result_code == 2001  # the CLR to mme1 cannot be delivered; the ULA is unaffected
        _wait_for(lambda: ("CLR", IMSI, None) in hss.hss.notifier.sent)
        assert mme2.requests.empty()  # not routed by realm to another MME
    undelivered = [r.getMessage() for r in caplog.records if "not delivered" in r.getMessage()]
    assert undelivered, "the undelivered CLR is logged"
    # the reason names the peer's state (it used to end in an empty reason)
    assert undelivered[0].endswith("not delivered: no open connection: mme1.localdomain is closed"), undelivered


def test_unanswered_clr_is_logged_with_the_timeout(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    with HssThread(store, {"mme_peer_timeout": 0.5}) as hss, \
            mme("mme1.localdomain", hss.port, answer=lambda _app, _req: None) as mme1, \
            mme("mme2.localdomain", hss.port) as mme2, caplog.at_level("WARNING", "sigcore.hss.s6a.notify"):
        mme1.wait_ready()
        mme2.wait_ready()
        assert ulr(mme1).result_code == 2001
        assert ulr(mme2, flags=0b10).result_code == 2001
        _wait_for(lambda: ("CLR", IMSI, None) in hss.hss.notifier.sent)
    lines = [r.getMessage() for r in caplog.records if "not delivered" in r.getMessage()]
    assert lines == [f"CLR for IMSI {IMSI} to mme1.localdomain not delivered: no answer from mme1.localdomain "
                     "within 0.5 s (hss.mme_peer_timeout)"]


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.02)


def test_profile_change_sends_idr_and_withdrawn_apn_a_dsr(hss: HssThread) -> None:
    with mme("mme1.localdomain", hss.port) as mme1:
        mme1.wait_ready()
        assert ulr(mme1).result_code == 2001
        hss.store.update_subscriber(IMSI, apns=["internet"], ue_ambr_dl=7_000_000)
        assert hss.run(hss.hss.notifier.subscriber_changed(IMSI)) == 2001
        dsr = mme1.next_request(timeout=10)
        assert dsr.header.command_code == 320
        assert dsr.dsr_flags == 1 << 3 and len(dsr.context_identifier) == 1
        idr = mme1.next_request(timeout=10)
        assert idr.header.command_code == 319
        assert idr.subscription_data.ambr.max_requested_bandwidth_dl == 7_000_000
        assert [c.service_selection for c in idr.subscription_data.apn_configuration_profile.apn_configuration] == [
            "internet"]
        assert hss.run(hss.hss.notifier.cancel_location(IMSI, "subscription_withdrawal")) == 2001
        clr = mme1.next_request(timeout=10)
        assert clr.header.command_code == 317 and clr.cancellation_type == 2


def test_not_registered_subscriber_gets_no_idr(hss: HssThread) -> None:
    assert hss.run(hss.hss.notifier.subscriber_changed(IMSI)) is None
    assert hss.hss.notifier.sent == []
