"""Diameter Gy against the charging engine, driven by python-diameter (an independent implementation):
CCR-I/U/T with MSCC for two rating groups; grants, FUI, 4012, balances and the session's CDR computed here
by hand; a top-up mid-session brings a RAR, disabling the account an ASR; tshark sees nothing malformed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from diameter.message.commands.credit_control import (
    CreditControlRequest,
    MultipleServicesCreditControl,
    RequestedServiceUnit,
    SubscriptionId,
    UsedServiceUnit,
)

from interop.ports import free_tcp_port
from interop.pydiameter_peer import PyDiameterPeer, quiet_python_diameter_logs
from interop.sigcore_nodes import wait_open
from interop.tshark import check_pcap, diameter_messages
from sigcore.charging.gy import GyService, install_gy
from sigcore.charging.service import Charging, build_charging
from sigcore.config import ChargingConfig
from sigcore.diameter.aio import Node, NodeSettings
from sigcore.diameter.answers import Identity
from sigcore.store import Store
from support.keys import TEST_KEK

pytestmark = [pytest.mark.interop, pytest.mark.slow]
OCS, PGW, REALM = "ocs.localdomain", "pgw.localdomain", "localdomain"
IMSI, MSISDN = "001010000000042", "61400000042"
NS = 1_000_000_000
MB = 1_000_000


@dataclass
class Ocs:
    node: Node
    charging: Charging
    gy: GyService
    port: int

    def rpc(self, method: str, params: dict[str, Any]) -> Any:
        answer = self.charging.dispatcher.handle_sync({"method": method, "params": [params], "id": 1})
        assert answer["error"] is None, answer
        return answer["result"]


@pytest.fixture
async def ocs(charging_url: str) -> AsyncIterator[Ocs]:
    """SQLite batches CCRs into shared transactions, PostgreSQL and MariaDB run them concurrently."""
    store = Store(charging_url, TEST_KEK)
    port = free_tcp_port()
    node = Node(NodeSettings(Identity(OCS, REALM), listen=[("127.0.0.1", port)]))
    charging = build_charging(store, ChargingConfig(listen="127.0.0.1:0"))
    gy = install_gy(node, charging, charging.cfg.gy)
    await node.start()
    await charging.start()
    try:
        yield Ocs(node, charging, gy, port)
    finally:
        await charging.stop()
        await node.stop()
        store.close()


def ccr(peer: PyDiameterPeer, session_id: str, kind: int, number: int,
        services: list[MultipleServicesCreditControl]) -> CreditControlRequest:
    req = peer.prepare(CreditControlRequest(), destination_host=OCS)
    req.session_id = session_id
    req.auth_application_id = 4
    req.service_context_id = "32251@3gpp.org"
    req.cc_request_type = kind
    req.cc_request_number = number
    req.subscription_id = [SubscriptionId(subscription_id_type=0, subscription_id_data=MSISDN),
                           SubscriptionId(subscription_id_type=1, subscription_id_data=IMSI)]
    req.multiple_services_credit_control = services
    return req


def mscc(rg: int, ask: dict[str, int] | None = None, used: dict[str, int] | None = None
         ) -> MultipleServicesCreditControl:
    item = MultipleServicesCreditControl(rating_group=rg)
    if ask is not None:
        item.requested_service_unit = RequestedServiceUnit(**ask)
    if used is not None:
        item.used_service_unit = [UsedServiceUnit(**used)]
    return item


def by_rg(cca: Any) -> dict[int, Any]:
    return {m.rating_group: m for m in cca.multiple_services_credit_control}


def granted(m: Any) -> tuple[int | None, int | None]:
    gsu = getattr(m, "granted_service_unit", None)
    if gsu is None:
        return None, None
    return getattr(gsu, "cc_total_octets", None), getattr(gsu, "cc_time", None)


def fui(m: Any) -> int | None:
    found = getattr(m, "final_unit_indication", None)
    return None if found is None else found.final_unit_action


async def test_gy_session_two_rating_groups(ocs: Ocs, tshark_capture: Any) -> None:
    quiet_python_diameter_logs()
    capture = tshark_capture([ocs.port], "gy")
    account = {"Tenant": "cgrates.org", "Account": "gyuser"}
    # RG 10 data: a 6 MB balance for RG 10 only (Weight 20, spent first) and a 3 MB one for anything.
    ocs.rpc("APIerSv1.SetBalance", {**account, "BalanceType": "*data", "Value": 6 * MB,
                                    "Balance": {"ID": "rg10", "Weight": 20, "Categories": "10"}})
    ocs.rpc("APIerSv1.SetBalance", {**account, "BalanceType": "*data", "Value": 3 * MB,
                                    "Balance": {"ID": "any", "Weight": 10}})
    ocs.rpc("APIerSv1.SetBalance", {**account, "BalanceType": "*voice", "Value": 400 * NS,
                                    "Balance": {"ID": "minutes"}})
    ocs.charging.engine.store.map_subscription(1, IMSI, "cgrates.org", "gyuser")  # E.164 unmapped: IMSI found

    peer = PyDiameterPeer(PGW, REALM, 4, remote_host=OCS, connect_port=ocs.port)
    peer.start()
    try:
        await asyncio.to_thread(peer.wait_ready)
        await wait_open(ocs.node, PGW)
        sid = f"{PGW};1;gy"

        async def send(kind: int, number: int, services: list[MultipleServicesCreditControl]) -> Any:
            return await asyncio.to_thread(peer.request, ccr(peer, sid, kind, number, services))

        cca = await send(1, 0, [mscc(10, {"cc_total_octets": 4 * MB}), mscc(20, {"cc_time": 300})])
        assert cca.result_code == 2001
        rg = by_rg(cca)
        assert granted(rg[10]) == (4 * MB, None) and rg[10].validity_time == 300 and rg[10].result_code == 2001
        assert granted(rg[20]) == (None, 300) and fui(rg[20]) is None

        # used 4 MB (from rg10: 6 -> 2 MB) and 300 s (400 -> 100 s); 2 + 3 MB left: 4 MB granted, 100 s with FUI
        cca = await send(2, 1, [mscc(10, {"cc_total_octets": 4 * MB}, {"cc_total_octets": 4 * MB}),
                                mscc(20, {"cc_time": 300}, {"cc_time": 300})])
        rg = by_rg(cca)
        assert granted(rg[10]) == (4 * MB, None) and fui(rg[10]) is None
        assert granted(rg[20]) == (None, 100) and fui(rg[20]) == 0  # TERMINATE
        # used 4 MB (rg10 2 -> 0, any 3 -> 1 MB) and 100 s (-> 0): 1 MB with FUI; voice 4012, no grant
        cca = await send(2, 2, [mscc(10, {"cc_total_octets": 4 * MB}, {"cc_total_octets": 4 * MB}),
                                mscc(20, {"cc_time": 300}, {"cc_time": 100})])
        rg = by_rg(cca)
        assert granted(rg[10]) == (1 * MB, None) and fui(rg[10]) == 0 and rg[10].result_code == 2001
        assert granted(rg[20]) == (None, None) and rg[20].result_code == 4012

        ocs.rpc("APIerSv1.AddBalance", {**account, "BalanceType": "*data", "Value": 5,  # a top-up: RAR
                                        "Balance": {"ID": "topup"}})
        rar = await asyncio.to_thread(peer.next_request, 10)
        assert rar.header.command_code == 258 and rar.session_id == sid
        ocs.rpc("APIerSv1.SetAccount", {**account, "ExtraOptions": {"Disabled": True}})  # disabled: ASR
        asr = await asyncio.to_thread(peer.next_request, 10)
        assert asr.header.command_code == 274 and asr.session_id == sid

        cca = await send(3, 3, [mscc(10, used={"cc_total_octets": MB // 2})])
        assert cca.result_code == 2001 and by_rg(cca)[10].result_code == 2001
    finally:
        await asyncio.to_thread(peer.stop)

    acc = ocs.rpc("APIerSv2.GetAccount", account)
    values = {b["ID"]: b["Value"] for t in ("*data", "*voice") for b in acc["BalanceMap"][t]}
    assert values == {"rg10": 0, "any": MB // 2, "minutes": 0, "topup": 5}
    (cdr,) = ocs.rpc("CDRsV1.GetCDRs", {"Sources": ["*diameter_gy"]})
    assert (cdr["OriginID"], cdr["ToR"], cdr["Usage"], cdr["Account"]) == (sid, "*data", 8 * MB + MB // 2, "gyuser")
    assert cdr["ExtraFields"] == {"RatingGroup10*data": str(8 * MB + MB // 2), "RatingGroup20*voice": str(400 * NS)}
    assert ocs.charging.engine.store.get_account("cgrates.org", "gyuser").reservations == {}  # type: ignore[union-attr]

    capture.stop()
    assert check_pcap(capture.pcap_path, [ocs.port]) == []
    commands = [(m.command_code, m.is_request) for m in diameter_messages(capture.pcap_path, [ocs.port])]
    assert commands.count((272, True)) == 4 and commands.count((272, False)) == 4
    assert (258, True) in commands and (274, True) in commands


async def one_ccr_i(ocs: Ocs, session: str, services: list[MultipleServicesCreditControl], **fields: int) -> Any:
    """The CCA to one CCR-I from a PGW connected for it alone; ``fields`` are set on the request as given."""
    quiet_python_diameter_logs()
    peer = PyDiameterPeer(PGW, REALM, 4, remote_host=OCS, connect_port=ocs.port)
    peer.start()
    try:
        await asyncio.to_thread(peer.wait_ready)
        req = ccr(peer, f"{PGW};{session}", 1, 0, services)
        for name, value in fields.items():
            setattr(req, name, value)
        return await asyncio.to_thread(peer.request, req)
    finally:
        await asyncio.to_thread(peer.stop)


async def test_two_services_of_one_rating_group_share_its_credit_and_get_their_own_answers(ocs: Ocs) -> None:
    """Two MSCCs with Rating-Group 7 (a gateway reporting per Service-Identifier): the second used to release
    the first's hold and be granted from the whole balance again (4 MB granted on a 3 MB balance), and
    neither answer said which service it was for. Now the grants add up to what is there, and each
    answer MSCC carries its request's Service-Identifier."""
    ocs.rpc("APIerSv1.SetBalance", {"Account": MSISDN, "BalanceType": "*data", "Value": 3 * MB,
                                    "Balance": {"ID": "d"}})
    video, web = mscc(7, {"cc_total_octets": 2 * MB}), mscc(7, {"cc_total_octets": 2 * MB})
    video.service_identifier, web.service_identifier = [1001], [1002]
    cca = await one_ccr_i(ocs, "svc;1", [video, web])
    assert cca.result_code == 2001
    answers = {m.service_identifier[0]: m for m in cca.multiple_services_credit_control}
    assert granted(answers[1001]) == (2 * MB, None) and fui(answers[1001]) is None
    assert granted(answers[1002]) == (1 * MB, None) and fui(answers[1002]) == 0  # what is left, the last of it
    acc = ocs.charging.engine.store.get_account("cgrates.org", MSISDN)
    assert acc is not None and sum(r.units for r in acc.reservations[f"{PGW};svc;1"].values()) == 3 * MB
    other = await one_ccr_i(ocs, "svc;2", [mscc(7, {"cc_total_octets": MB})])
    assert by_rg(other)[7].result_code == 4012  # all 3 MB are held by the first session
    by_service = MultipleServicesCreditControl(requested_service_unit=RequestedServiceUnit(cc_total_octets=1))
    by_service.service_identifier = [1003]  # named by Service-Identifier alone: answered so, no Rating-Group 0
    (alone,) = (await one_ccr_i(ocs, "svc;3", [by_service])).multiple_services_credit_control
    assert alone.service_identifier == [1003] and getattr(alone, "rating_group", None) is None


async def test_a_ccr_without_mscc_is_answered_at_the_command_level(ocs: Ocs) -> None:
    """A single-service client (Requested-Service-Unit at the command level, no MSCC, RFC 4006 §5.1.2) looks
    for Granted-Service-Unit there: it used to come inside an MSCC with Rating-Group 0, which such a client
    does not read, and a 4012 was only the MSCC's (the command's Result-Code 2001)."""
    ocs.rpc("APIerSv1.SetBalance", {"Account": MSISDN, "BalanceType": "*data", "Value": 3 * MB,
                                    "Balance": {"ID": "d"}})
    cca = await one_ccr_i(ocs, "single;1", [], requested_service_unit=RequestedServiceUnit(cc_total_octets=2 * MB))
    assert cca.result_code == 2001 and not cca.multiple_services_credit_control
    assert cca.granted_service_unit.cc_total_octets == 2 * MB and cca.validity_time == 300
    last = await one_ccr_i(ocs, "single;2", [], requested_service_unit=RequestedServiceUnit(cc_total_octets=2 * MB))
    assert last.granted_service_unit.cc_total_octets == 1 * MB and last.final_unit_indication.final_unit_action == 0
    none = await one_ccr_i(ocs, "single;3", [], requested_service_unit=RequestedServiceUnit(cc_total_octets=MB))
    assert none.result_code == 4012 and getattr(none, "granted_service_unit", None) is None


async def test_check_balance_and_price_enquiry_events(ocs: Ocs) -> None:
    """A single-service CCR-Event with Requested-Action CHECK_BALANCE is answered Check-Balance-Result; a
    PRICE_ENQUIRY (no tariffs here to quote) 5031 RATING_FAILED: it used to be debited."""
    ocs.rpc("APIerSv1.SetBalance", {"Account": MSISDN, "BalanceType": "*data", "Value": 3 * MB,
                                    "Balance": {"ID": "d"}})

    async def event(session: str, action: int, octets: int) -> Any:
        peer = PyDiameterPeer(PGW, REALM, 4, remote_host=OCS, connect_port=ocs.port)
        peer.start()
        try:
            await asyncio.to_thread(peer.wait_ready)
            req = ccr(peer, f"{PGW};{session}", 4, 0, [])
            req.requested_action = action
            req.requested_service_unit = RequestedServiceUnit(cc_total_octets=octets)
            return await asyncio.to_thread(peer.request, req)
        finally:
            await asyncio.to_thread(peer.stop)

    enough, short = await event("chk;1", 2, 3 * MB), await event("chk;2", 2, 4 * MB)
    assert (enough.result_code, enough.check_balance_result) == (2001, 0)  # ENOUGH_CREDIT
    assert (short.result_code, short.check_balance_result) == (2001, 1)  # NO_CREDIT
    price = await event("price;1", 3, MB)
    assert price.result_code == 5031
    acc = ocs.charging.engine.store.get_account("cgrates.org", MSISDN)
    assert acc is not None and sum(b.value for b in acc.balances) == 3 * MB  # nothing debited


async def test_gy_unknown_subscriber_is_5030(ocs: Ocs) -> None:
    cca = await one_ccr_i(ocs, "2;x", [mscc(10, {"cc_total_octets": 1})])
    assert cca.result_code == 5030


async def test_gy_trigger_with_synchronous_http_post(ocs: Ocs, receiver: Any) -> None:
    """On SQLite CCRs are applied on the event loop, where a blocking HTTP POST must not run: a CCR whose
    debit fires a trigger with a synchronous *http_post is rolled back there and applied again on a
    thread. The POST arrives once, the debit is taken once, the CCA is 2001."""
    quiet_python_diameter_logs()
    account = {"Tenant": "cgrates.org", "Account": MSISDN}
    ocs.rpc("APIerSv1.SetBalance", {**account, "BalanceType": "*data", "Value": 10 * MB, "Balance": {"ID": "d"}})
    ocs.rpc("APIerSv1.SetActions", {"ActionsId": "TELL", "Actions": [
        {"Identifier": "*http_post", "ExtraParameters": receiver.url, "Weight": 10}]})
    ocs.rpc("APIerSv2.SetAccountActionTriggers", {**account, "GroupID": "USED", "ActionTrigger": {
        "ThresholdType": "*max_event_counter", "ThresholdValue": 1, "BalanceType": "*data", "ActionsID": "TELL"}})
    peer = PyDiameterPeer(PGW, REALM, 4, remote_host=OCS, connect_port=ocs.port)
    peer.start()
    try:
        await asyncio.to_thread(peer.wait_ready)
        await wait_open(ocs.node, PGW)
        sid = f"{PGW};3;post"
        cca = await asyncio.to_thread(peer.request, ccr(peer, sid, 1, 0, [mscc(10, {"cc_total_octets": MB})]))
        assert cca.result_code == 2001 and receiver.bodies == []
        cca = await asyncio.to_thread(peer.request, ccr(peer, sid, 2, 1, [
            mscc(10, {"cc_total_octets": MB}, {"cc_total_octets": MB})]))
        assert cca.result_code == 2001 and granted(by_rg(cca)[10]) == (MB, None)
        assert len(receiver.bodies) == 1 and receiver.bodies[0]["ID"] == f"cgrates.org:{MSISDN}"
        balance = ocs.rpc("APIerSv2.GetAccount", account)["BalanceMap"]["*data"][0]
        assert balance["Value"] == 9 * MB  # debited once, though the CCR ran twice
    finally:
        await asyncio.to_thread(peer.stop)


@pytest.mark.parametrize(("avp", "value"), [("cc_request_type", 9), ("requested_action", 7)])
async def test_gy_an_undefined_request_type_or_action_is_5004_and_reserves_nothing(
        ocs: Ocs, avp: str, value: int) -> None:
    """RFC 4006 defines four CC-Request-Types and four Requested-Actions; a CCR with another value was
    answered 2001 with a grant (taken as an update), and its reservation held the balance until it expired."""
    ocs.rpc("APIerSv1.SetBalance", {"Tenant": "cgrates.org", "Account": MSISDN, "BalanceType": "*data",
                                    "Value": 10 * MB, "Balance": {"ID": "d"}})
    cca = await one_ccr_i(ocs, f"3;{avp}", [mscc(10, {"cc_total_octets": MB})], **{avp: value})
    assert cca.result_code == 5004
    (failed,) = cca.failed_avp[0].additional_avps
    assert (failed.code, failed.value) == ({"cc_request_type": 416, "requested_action": 436}[avp], value)
    assert ocs.charging.engine.store.get_account("cgrates.org", MSISDN).reservations == {}  # type: ignore[union-attr]


async def test_gy_a_zero_requested_amount_gets_the_default_quota(ocs: Ocs) -> None:
    """An RSU of 0 octets (how some gateways ask "the server's choice") was 4012 CREDIT_LIMIT_REACHED with a
    Final-Unit-Indication to terminate, on an account with credit; it is the default quota, as an empty RSU."""
    ocs.rpc("APIerSv1.SetBalance", {"Tenant": "cgrates.org", "Account": MSISDN, "BalanceType": "*data",
                                    "Value": 1000 * MB, "Balance": {"ID": "d"}})
    cca = await one_ccr_i(ocs, "4;zero", [mscc(10, {"cc_total_octets": 0}), mscc(20, {"cc_time": 0})])
    rg = by_rg(cca)
    assert cca.result_code == 2001 and rg[10].result_code == 2001 and fui(rg[10]) is None
    assert granted(rg[10]) == (ocs.gy.cfg.default_octets, None)
    assert rg[20].result_code == 4012  # no *voice balance: the default time is refused for want of credit


async def test_gy_a_session_id_longer_than_kept_is_5004_on_every_backend(ocs: Ocs) -> None:
    """The session's row keeps its Session-Id in 255 characters: SQLite kept a longer one, PostgreSQL and
    MariaDB failed the insert (5012, a traceback). Now 5004 with the Session-Id as Failed-AVP, everywhere."""
    ocs.rpc("APIerSv1.SetBalance", {"Tenant": "cgrates.org", "Account": MSISDN, "BalanceType": "*data",
                                    "Value": 10 * MB, "Balance": {"ID": "d"}})
    long_id = "x" * (256 - len(f"{PGW};"))
    cca = await one_ccr_i(ocs, long_id, [mscc(10, {"cc_total_octets": MB})])
    assert cca.result_code == 5004
    (failed,) = cca.failed_avp[0].additional_avps
    assert failed.code == 263 and len(failed.value) == 256
    cca = await one_ccr_i(ocs, long_id[1:], [mscc(10, {"cc_total_octets": MB})])
    assert cca.result_code == 2001
