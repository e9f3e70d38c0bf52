"""Sh UserState (15), LocationInformation (14) and IMSPrivateUserIdentity (33), TS 29.328 §7.6 / TS 29.329.

A sigcore node plays the application server and sends UDRs over TCP to the HSS (Cx+Sh). The subscriber's
serving MME is written with the store calls the S6a ULR and PUR handlers make (`update_serving_mme`,
`purge`). Every Sh-Data the HSS returns is validated against the TS 29.328 schema.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree  # type: ignore[import-untyped]

from interop.sigcore_nodes import wait_open
from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.aio import Node, NodeSettings, RequestContext
from sigcore.diameter.aio.node import PeerSettings
from sigcore.diameter.answers import Identity
from sigcore.diameter.application import answer
from sigcore.diameter.message import Message
from sigcore.hss.application import application_avps
from sigcore.hss.ims.codes import (
    SH_APP,
    VENDOR,
    CsUserState,
    CurrentLocation,
    DataReference,
    PsUserState,
    RequestedDomain,
    RequestedNodes,
    ShCommand,
    ShResult,
)
from sigcore.hss.ims.documents import ShDataParts, validate_sh
from sigcore.hss.sh.location import ServingQuery, add_location, add_user_state
from sigcore.store.records import ServingNode, ServingState

from .hss_fixture import ALICE, BOB, BOB_IMSI, HSS_HOST, REALM, Hss, make_hss, make_store

AS_HOST = "as.localdomain"
MME = "mme1.localdomain"
BOB_IMPU = BOB[1][0]
PS, CS = RequestedDomain.PS_DOMAIN, RequestedDomain.CS_DOMAIN
DO_NOT_RETRIEVE = CurrentLocation.DO_NOT_NEED_INITIATE_ACTIVE_LOCATION_RETRIEVAL
EXT4 = "Extension/Extension/Extension/Extension"


def pna(req: Message, ctx: RequestContext) -> Message:
    """The application server's Push-Notification-Answer: success."""
    return answer(req, ctx.node.identity, 2001, list(application_avps(SH_APP)))


@pytest.fixture
async def hss_and_as(tmp_path: Path) -> AsyncIterator[tuple[Hss, Node]]:
    store = make_store(tmp_path)
    hss = make_hss(store)
    app_server = Node(NodeSettings(Identity(AS_HOST, REALM), listen=[],
                                   peers=[PeerSettings(HSS_HOST, "127.0.0.1", hss.port, "connect")]))
    app_server.register(SH_APP, ShCommand.PNR, pna, VENDOR)
    await hss.node.start()
    await app_server.start()
    try:
        await wait_open(hss.node, AS_HOST)
        yield hss, app_server
    finally:
        await app_server.stop()
        await hss.node.stop()
        store.close()


async def udr(app_server: Node, *references: int, impu: str = BOB_IMPU, **avps: Any) -> Message:
    """A UDR for ``references``; keyword AVPs by name with '_' for '-' (Requested_Domain=1)."""
    head: list[tuple[str, Any]] = [
        ("Session-Id", f"{AS_HOST};1"),
        ("Vendor-Specific-Application-Id", [("Vendor-Id", VENDOR), ("Auth-Application-Id", SH_APP)]),
        ("Auth-Session-State", 1), ("Origin-Host", AS_HOST), ("Origin-Realm", REALM),
        ("Destination-Host", HSS_HOST), ("Destination-Realm", REALM),
        ("User-Identity", [("Public-Identity", impu)]),
    ]
    head += [("Data-Reference", r) for r in references]
    head += [(name.replace("_", "-"), value) for name, value in avps.items()]
    return await app_server.request(Message(ShCommand.UDR, SH_APP, 0xC0, 0, 0, D.build_many(head)))


def sh_data(uda: Message) -> etree._Element:
    assert uda.get("Result-Code") == 2001, uda
    document = bytes(uda["Sh-User-Data"])
    validate_sh(document)
    return etree.fromstring(document)


def experimental(uda: Message) -> int | None:
    found = uda.get("Experimental-Result")
    return int(found["Experimental-Result-Code"]) if found is not None else None


async def test_attached_user_is_reachable_and_located_at_its_mme(hss_and_as: tuple[Hss, Node]) -> None:
    hss, app_server = hss_and_as
    hss.store.update_serving_mme(BOB_IMSI, MME, REALM, MME)  # what the ULR handler records

    data = sh_data(await udr(app_server, DataReference.USER_STATE, Requested_Domain=PS))
    assert data.findtext(f"{EXT4}/EPSUserState") == str(PsUserState.ATTACHED_REACHABLE_FOR_PAGING)
    assert data.find("PSUserState") is None, "no SGSN registered and none asked for"

    data = sh_data(await udr(app_server, DataReference.LOCATION_INFORMATION, Requested_Domain=PS,
                             Current_Location=DO_NOT_RETRIEVE))
    location = data.find(f"{EXT4}/EPSLocationInformation")
    assert location is not None
    assert location.findtext("MMEName") == MME
    assert location.findtext("AgeOfLocationInformation") == "0"
    assert location.find("CurrentLocationRetrieved") is None


async def test_active_location_retrieval_returns_the_stored_location_not_marked_current(
        hss_and_as: tuple[Hss, Node]) -> None:
    hss, app_server = hss_and_as
    hss.store.update_serving_mme(BOB_IMSI, MME, REALM, MME)
    data = sh_data(await udr(app_server, DataReference.LOCATION_INFORMATION, Requested_Domain=PS,
                             Current_Location=CurrentLocation.INITIATE_ACTIVE_LOCATION_RETRIEVAL,
                             Serving_Node_Indication=0))
    location = data.find(f"{EXT4}/EPSLocationInformation")
    assert location is not None and [child.tag for child in location] == ["MMEName"]


async def test_purged_user_is_not_reachable_and_has_no_location(hss_and_as: tuple[Hss, Node]) -> None:
    hss, app_server = hss_and_as
    hss.store.update_serving_mme(BOB_IMSI, MME, REALM, MME)
    assert hss.store.purge(BOB_IMSI, MME)  # what the S6a PUR handler records

    data = sh_data(await udr(app_server, DataReference.USER_STATE, Requested_Domain=PS))
    assert data.findtext(f"{EXT4}/EPSUserState") == str(PsUserState.NETWORK_DETERMINED_NOT_REACHABLE)

    alone = await udr(app_server, DataReference.LOCATION_INFORMATION, Requested_Domain=PS,
                      Current_Location=DO_NOT_RETRIEVE)
    assert experimental(alone) == ShResult.USER_DATA_NOT_AVAILABLE and alone.get("Sh-User-Data") is None

    both = sh_data(await udr(app_server, DataReference.USER_STATE, DataReference.LOCATION_INFORMATION,
                             Requested_Domain=PS, Current_Location=DO_NOT_RETRIEVE))
    location = both.find(f"{EXT4}/EPSLocationInformation")
    assert location is not None and len(location) == 0, "an empty element says: not available"
    assert both.findtext(f"{EXT4}/EPSUserState") == str(PsUserState.NETWORK_DETERMINED_NOT_REACHABLE)


@pytest.mark.parametrize("impu", [BOB_IMPU, ALICE[1][0]], ids=["never-attached", "no-imsi"])
async def test_never_attached_user_is_not_reachable(hss_and_as: tuple[Hss, Node], impu: str) -> None:
    _, app_server = hss_and_as
    data = sh_data(await udr(app_server, DataReference.USER_STATE, impu=impu, Requested_Domain=PS))
    assert data.findtext(f"{EXT4}/EPSUserState") == str(PsUserState.NETWORK_DETERMINED_NOT_REACHABLE)
    located = await udr(app_server, DataReference.LOCATION_INFORMATION, impu=impu, Requested_Domain=PS,
                        Current_Location=DO_NOT_RETRIEVE)
    assert experimental(located) == ShResult.USER_DATA_NOT_AVAILABLE


async def test_cs_domain_has_no_vlr_registration(hss_and_as: tuple[Hss, Node]) -> None:
    hss, app_server = hss_and_as
    hss.store.update_serving_mme(BOB_IMSI, MME, REALM, MME)
    data = sh_data(await udr(app_server, DataReference.USER_STATE, Requested_Domain=CS))
    assert data.findtext("CSUserState") == str(CsUserState.NETWORK_DETERMINED_NOT_REACHABLE)
    assert data.find("Extension") is None, "the CS answer says nothing of the MME"

    alone = await udr(app_server, DataReference.LOCATION_INFORMATION, Requested_Domain=CS,
                      Current_Location=DO_NOT_RETRIEVE)
    assert experimental(alone) == ShResult.USER_DATA_NOT_AVAILABLE
    both = sh_data(await udr(app_server, DataReference.LOCATION_INFORMATION, DataReference.USER_STATE,
                             Requested_Domain=CS, Current_Location=DO_NOT_RETRIEVE))
    cs_location = both.find("CSLocationInformation")
    assert cs_location is not None and len(cs_location) == 0


async def test_requested_nodes_select_mme_or_sgsn(hss_and_as: tuple[Hss, Node]) -> None:
    hss, app_server = hss_and_as
    hss.store.update_serving_mme(BOB_IMSI, MME, REALM, MME)
    sgsn_only = sh_data(await udr(app_server, DataReference.USER_STATE, Requested_Domain=PS,
                                  Requested_Nodes=RequestedNodes.SGSN))
    assert sgsn_only.findtext("PSUserState") == str(PsUserState.NETWORK_DETERMINED_NOT_REACHABLE)
    assert sgsn_only.find("Extension") is None

    hss.store.update_serving_sgsn(BOB_IMSI, "sgsn.localdomain", REALM, None)
    every = sh_data(await udr(app_server, DataReference.USER_STATE, Requested_Domain=PS))
    assert every.findtext("PSUserState") == str(PsUserState.ATTACHED_REACHABLE_FOR_PAGING)
    assert every.findtext(f"{EXT4}/EPSUserState") == str(PsUserState.ATTACHED_REACHABLE_FOR_PAGING)

    sgsn_location = await udr(app_server, DataReference.LOCATION_INFORMATION, Requested_Domain=PS,
                              Current_Location=DO_NOT_RETRIEVE, Requested_Nodes=RequestedNodes.SGSN)
    assert experimental(sgsn_location) == ShResult.USER_DATA_NOT_AVAILABLE, "no SGSN number is held"


async def test_missing_requested_domain_or_current_location_is_5005(hss_and_as: tuple[Hss, Node]) -> None:
    _, app_server = hss_and_as
    for references, avps, missing in (
            ((DataReference.USER_STATE,), {}, "Requested-Domain"),
            ((DataReference.LOCATION_INFORMATION,), {"Current_Location": DO_NOT_RETRIEVE}, "Requested-Domain"),
            ((DataReference.LOCATION_INFORMATION,), {"Requested_Domain": PS}, "Current-Location")):
        uda = await udr(app_server, *references, **avps)
        assert uda.get("Result-Code") == 5005, (references, avps)
        assert [a.code for a in uda["Failed-AVP"]] == [D.avp(missing).code], f"Failed-AVP names {missing}"


async def test_private_identity_and_imsi_share_the_fifth_extension(hss_and_as: tuple[Hss, Node]) -> None:
    hss, app_server = hss_and_as
    hss.store.update_serving_mme(BOB_IMSI, MME, REALM, MME)
    data = sh_data(await udr(app_server, DataReference.IMS_PRIVATE_USER_IDENTITY, DataReference.IMSI,
                             DataReference.USER_STATE, Requested_Domain=PS))
    level5 = data.find(f"{EXT4}/Extension")
    assert level5 is not None
    assert [(e.tag, e.text) for e in level5] == [("IMSI", BOB_IMSI), ("IMSPrivateUserIdentity", BOB[0])]
    assert data.findtext(f"{EXT4}/EPSUserState") == str(PsUserState.ATTACHED_REACHABLE_FOR_PAGING)


async def test_reference_sigcore_does_not_hold_is_5102(hss_and_as: tuple[Hss, Node]) -> None:
    _, app_server = hss_and_as
    uda = await udr(app_server, DataReference.SERVICE_LEVEL_TRACE_INFO)
    assert experimental(uda) == ShResult.USER_DATA_CANNOT_BE_READ


# --- the derivation alone, with a clock --------------------------------------------------------------------

NOW = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.UTC)


def serving(minutes_ago: float, purged: bool = False) -> ServingState:
    return ServingState(ServingNode(MME, REALM, MME, NOW - dt.timedelta(minutes=minutes_ago), purged), None)


@pytest.mark.parametrize(("minutes_ago", "age"), [(0.5, 0), (61, 61), (10**6, 32767)])
def test_age_of_location_is_minutes_since_the_mme_update_capped(minutes_ago: float, age: int) -> None:
    parts = ShDataParts()
    assert add_location(parts, serving(minutes_ago), ServingQuery(PS), NOW)
    assert parts.eps_location is not None and parts.eps_location.age_minutes == age


def test_time_zone_only_is_not_held() -> None:
    parts = ShDataParts()
    assert not add_location(parts, serving(1), ServingQuery(PS, time_zone_only=True), NOW)


def test_user_state_for_other_nodes_says_nothing_of_the_mme() -> None:
    parts = ShDataParts()
    add_user_state(parts, serving(1), ServingQuery(PS, nodes=RequestedNodes.AMF))
    assert parts.eps_user_state is None and parts.ps_user_state is None


async def test_undefined_requested_domain_is_5004(hss_and_as: tuple[Hss, Node]) -> None:
    _, app_server = hss_and_as
    uda = await udr(app_server, DataReference.USER_STATE, Requested_Domain=7)
    assert uda.get("Result-Code") == 5004
    assert [a.code for a in uda["Failed-AVP"]] == [D.avp("Requested-Domain").code]


async def test_a_service_indication_longer_than_the_store_keeps_is_refused(hss_and_as: tuple[Hss, Node]) -> None:
    """Repository data and subscriptions keep the Service-Indication in 255 characters: SQLite kept a longer
    one, PostgreSQL and MariaDB failed the PUR/SNR with 5012. Now SNR 5004 (Failed-AVP), PUR 5100."""
    _, app_server = hss_and_as
    long_si = "s" * 256

    async def send(command: int, *avps: tuple[str, Any]) -> Message:
        head: list[tuple[str, Any]] = [
            ("Session-Id", f"{AS_HOST};{command}"),
            ("Vendor-Specific-Application-Id", [("Vendor-Id", VENDOR), ("Auth-Application-Id", SH_APP)]),
            ("Auth-Session-State", 1), ("Origin-Host", AS_HOST), ("Origin-Realm", REALM),
            ("Destination-Host", HSS_HOST), ("Destination-Realm", REALM),
            ("User-Identity", [("Public-Identity", BOB_IMPU)]), ("Data-Reference", 0)]
        return await app_server.request(Message(command, SH_APP, 0xC0, 0, 0, D.build_many([*head, *avps])))

    sna = await send(ShCommand.SNR, ("Subs-Req-Type", 0), ("Service-Indication", long_si.encode()))
    assert sna.get("Result-Code") == 5004 and bytes(sna["Failed-AVP"]["Service-Indication"]) == long_si.encode()
    document = (f"<Sh-Data><RepositoryData><ServiceIndication>{long_si}</ServiceIndication><SequenceNumber>0"
                "</SequenceNumber><ServiceData><x/></ServiceData></RepositoryData></Sh-Data>").encode()
    pua = await send(ShCommand.PUR, ("Sh-User-Data", document))
    assert experimental(pua) == 5100
    sna = await send(ShCommand.SNR, ("Subs-Req-Type", 0), ("Service-Indication", long_si[1:].encode()))
    assert experimental(sna) == 5106  # 255 fits: refused only because no such repository data is held
