"""python-diameter 0.9.0 as an independent Sh application server against sigcore: UDR, PUR (including
5105 TRANSPARENT_DATA_OUT_OF_SYNC), SNR, then a PNR after a change; UserState and LocationInformation of
a user whose MME is recorded, and of one attached and purged by a python-diameter MME over S6a. Every
Sh-Data sigcore sends is validated against the TS 29.328 schema.

python-diameter maps its ``user_data`` attribute to Cx's User-Data (606) even on Sh, so Sh-User-Data
(AVP 702, TS 29.329 §6.3.1) is added and read by code here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from diameter.message import Avp, Message
from diameter.message.commands import (
    ProfileUpdateRequest,
    SubscribeNotificationsRequest,
    UserDataRequest,
)
from diameter.message.commands.user_data import UserIdentity, VendorSpecificApplicationId
from lxml import etree

from interop.pydiameter_peer import APP_SH, PyDiameterPeer, quiet_python_diameter_logs
from interop.sigcore_nodes import wait_open
from sigcore.hss.ims.codes import DataReference, PsUserState, RequestedDomain, ShResult
from sigcore.hss.ims.documents import validate_sh
from sigcore.hss.sh.handlers import ShService
from sigcore.store.ims import ImsStore, RegState
from support.s6a import IMSI as S6A_IMSI
from support.s6a import HssThread, mme, new_kek, provision, pur, sqlite_url, ulr

from .hss_fixture import ALICE, BOB, BOB_IMSI, HSS_HOST, REALM, Hss, make_hss, make_store

pytestmark = [pytest.mark.interop, pytest.mark.slow]
AS_HOST = "as.localdomain"
SH_USER_DATA = (702, 10415)
IMPU = ALICE[1][0]


@pytest.fixture
async def hss_and_as(tmp_path: Path) -> AsyncIterator[tuple[Hss, PyDiameterPeer]]:
    quiet_python_diameter_logs()
    store = make_store(tmp_path)
    hss = make_hss(store)
    await hss.node.start()
    peer = PyDiameterPeer(AS_HOST, REALM, APP_SH, remote_host=HSS_HOST, connect_port=hss.port)
    # Its PNR rule demands User-Data (606) where TS 29.329 has Sh-User-Data (702): it would answer our
    # correct PNR with 5005 MISSING_AVP. Turn its request validation off; the test checks the PNR itself.
    peer.node.validate_received_request_avps = False
    try:
        peer.start()
        await asyncio.to_thread(peer.wait_ready)
        await wait_open(hss.node, AS_HOST)
        yield hss, peer
    finally:
        peer.stop()
        await hss.node.stop()
        store.close()


def _prepare(peer: PyDiameterPeer, msg: Message) -> Message:
    req = peer.prepare(msg, destination_host=HSS_HOST)
    req.vendor_specific_application_id = VendorSpecificApplicationId(vendor_id=10415, auth_application_id=APP_SH)
    req.user_identity = UserIdentity(public_identity=IMPU)
    return req


def _sh_data(answer: Message) -> etree._Element:
    found = answer.find_avps(SH_USER_DATA)
    assert found, f"no Sh-User-Data in {answer}"
    document = found[0].value
    validate_sh(document)
    return etree.fromstring(document)


def _experimental(answer: Message) -> int | None:
    found = answer.find_avps((297, 0), (298, 0))
    return int(found[0].value) if found else None


def _repository(service_indication: str, sequence: int, data: str | None) -> bytes:
    body = f"<ServiceData>{data}</ServiceData>" if data is not None else ""
    return (f"<?xml version='1.0' encoding='UTF-8'?><Sh-Data><RepositoryData><ServiceIndication>{service_indication}"
            f"</ServiceIndication><SequenceNumber>{sequence}</SequenceNumber>{body}</RepositoryData></Sh-Data>").encode()


def _pur(peer: PyDiameterPeer, document: bytes) -> Message:
    pur = _prepare(peer, ProfileUpdateRequest())
    pur.data_reference = DataReference.REPOSITORY_DATA
    pur.append_avp(Avp.new(*SH_USER_DATA, value=document, is_mandatory=True))
    return peer.request(pur)


async def test_udr_pur_out_of_sync_snr_and_pnr(hss_and_as: tuple[Hss, PyDiameterPeer]) -> None:
    hss, peer = hss_and_as
    udr = _prepare(peer, UserDataRequest())
    udr.data_reference = [DataReference.IMS_PUBLIC_IDENTITY, DataReference.IMS_USER_STATE, DataReference.MSISDN]
    uda = await asyncio.to_thread(peer.request, udr)
    assert uda.result_code == 2001
    data = _sh_data(uda)
    assert data.findall("PublicIdentifiers/IMSPublicIdentity")[0].text == IMPU
    assert [e.text for e in data.findall("PublicIdentifiers/IMSPublicIdentity")] == ALICE[1]
    assert data.findtext("Sh-IMS-Data/IMSUserState") == "0"

    created = await asyncio.to_thread(_pur, peer, _repository("mmtel", 0, "<cdiv>on</cdiv>"))
    assert created.result_code == 2001
    stale = await asyncio.to_thread(_pur, peer, _repository("mmtel", 0, "<cdiv>off</cdiv>"))
    assert _experimental(stale) == ShResult.TRANSPARENT_DATA_OUT_OF_SYNC
    updated = await asyncio.to_thread(_pur, peer, _repository("mmtel", 1, "<cdiv>off</cdiv>"))
    assert updated.result_code == 2001

    udr = _prepare(peer, UserDataRequest())
    udr.data_reference = DataReference.REPOSITORY_DATA
    udr.service_indication = b"mmtel"
    data = _sh_data(await asyncio.to_thread(peer.request, udr))
    assert data.findtext("RepositoryData/SequenceNumber") == "1"
    assert data.findtext("RepositoryData/ServiceData/cdiv") == "off"

    snr = _prepare(peer, SubscribeNotificationsRequest())
    snr.subs_req_type = 0
    snr.data_reference = [DataReference.REPOSITORY_DATA, DataReference.IMS_USER_STATE]
    snr.service_indication = b"mmtel"
    sna = await asyncio.to_thread(peer.request, snr)
    assert sna.result_code == 2001
    assert sna.find_avps((709, 10415)), "SNA grants an Expiry-Time"

    # A change by provisioning (not by this AS) notifies it, with the new data
    await hss.sh.put_repository_data(IMPU, "mmtel", b"<cdiv>busy</cdiv>")
    pnr = await asyncio.to_thread(peer.next_request, 10)
    assert pnr.header.command_code == 309
    data = _sh_data(pnr)
    assert data.findtext("RepositoryData/SequenceNumber") == "2"
    assert data.findtext("RepositoryData/ServiceData/cdiv") == "busy"

    # A registration change (what a SAR does) notifies IMSUserState subscribers
    impu = hss.ims.get_impu(IMPU)
    assert impu is not None
    hss.ims.set_registration([impu], RegState.REGISTERED, scscf_name="sip:scscf", scscf_host="s", scscf_realm=REALM)
    await hss.sh.registration_changed([impu])
    pnr = await asyncio.to_thread(peer.next_request, 10)
    assert _sh_data(pnr).findtext("Sh-IMS-Data/IMSUserState") == "1"


async def test_a_pur_with_one_bad_repository_data_writes_none_of_them(
        hss_and_as: tuple[Hss, PyDiameterPeer]) -> None:
    """Sh-Data may carry several RepositoryData: they used to be written one transaction each, so a PUR
    whose second one was out of sync (or too large) was refused with the first already stored and no PNR
    for it; the AS, told it failed, sent its sequence 0 again and was out of sync for ever."""
    hss, peer = hss_and_as
    assert (await asyncio.to_thread(_pur, peer, _repository("presence", 0, "<p>on</p>"))).result_code == 2001

    def two(first: str, second: str) -> bytes:
        one, other = (_repository(si, seq, "<x>1</x>").split(b"<Sh-Data>")[1].split(b"</Sh-Data>")[0]
                      for si, seq in ((first, 0), (second, 0)))
        return b"<?xml version='1.0' encoding='UTF-8'?><Sh-Data>" + one + other + b"</Sh-Data>"

    refused = await asyncio.to_thread(_pur, peer, two("mmtel", "presence"))  # presence is at 0: 0 is stale
    assert _experimental(refused) == ShResult.TRANSPARENT_DATA_OUT_OF_SYNC
    impu = hss.ims.get_impu(IMPU)
    assert impu is not None
    assert [r.service_indication for r in hss.ims.repository_data(impu, [])] == ["presence"]
    both = await asyncio.to_thread(_pur, peer, two("mmtel", "vm"))
    assert both.result_code == 2001
    assert sorted(r.service_indication for r in hss.ims.repository_data(impu, [])) == ["mmtel", "presence", "vm"]


async def test_udr_unknown_user_is_5001(hss_and_as: tuple[Hss, PyDiameterPeer]) -> None:
    _, peer = hss_and_as
    udr = _prepare(peer, UserDataRequest())
    udr.user_identity = UserIdentity(public_identity="sip:nobody@localdomain")
    udr.data_reference = DataReference.IMS_USER_STATE
    uda = await asyncio.to_thread(peer.request, udr)
    assert _experimental(uda) == 5001


async def test_udr_user_state_and_location_of_an_attached_user(hss_and_as: tuple[Hss, PyDiameterPeer]) -> None:
    hss, peer = hss_and_as
    hss.store.update_serving_mme(BOB_IMSI, "mme1.localdomain", REALM, "mme1.localdomain")  # as a ULR records it
    udr = _prepare(peer, UserDataRequest())
    udr.user_identity = UserIdentity(public_identity=BOB[1][0])
    udr.data_reference = [DataReference.USER_STATE, DataReference.LOCATION_INFORMATION]
    udr.requested_domain = RequestedDomain.PS_DOMAIN
    udr.current_location = 0
    data = _sh_data(await asyncio.to_thread(peer.request, udr))
    eps = "Extension/Extension/Extension/Extension"
    assert data.findtext(f"{eps}/EPSUserState") == str(PsUserState.ATTACHED_REACHABLE_FOR_PAGING)
    assert data.findtext(f"{eps}/EPSLocationInformation/MMEName") == "mme1.localdomain"


def test_s6a_attach_and_purge_drive_the_sh_user_state(tmp_path: Path) -> None:
    """The serving state comes from real S6a requests: a python-diameter MME's ULR, then its PUR."""
    quiet_python_diameter_logs()
    store = provision(sqlite_url(tmp_path), new_kek())
    impu = "sip:dave@localdomain"
    ImsStore(store).add_user("dave@localdomain", [impu], imsi=S6A_IMSI)
    hss = HssThread(store)
    # Sh beside S6a on one node, as `sigcore run` installs them
    ShService(store, node=hss.node).application().install(hss.node)
    with hss, mme("mme1.localdomain", hss.port) as mme1, \
            PyDiameterPeer(AS_HOST, REALM, APP_SH, remote_host=HSS_HOST, connect_port=hss.port) as app_server:
        mme1.wait_ready()
        app_server.wait_ready()

        def user_state() -> etree._Element:
            udr = _prepare(app_server, UserDataRequest())
            udr.user_identity = UserIdentity(public_identity=impu)
            udr.data_reference = [DataReference.USER_STATE, DataReference.LOCATION_INFORMATION]
            udr.requested_domain = RequestedDomain.PS_DOMAIN
            udr.current_location = 0
            return _sh_data(app_server.request(udr))

        eps = "Extension/Extension/Extension/Extension"
        assert user_state().findtext(f"{eps}/EPSUserState") == str(PsUserState.NETWORK_DETERMINED_NOT_REACHABLE)
        assert ulr(mme1, imsi=S6A_IMSI).result_code == 2001
        attached = user_state()
        assert attached.findtext(f"{eps}/EPSUserState") == str(PsUserState.ATTACHED_REACHABLE_FOR_PAGING)
        assert attached.findtext(f"{eps}/EPSLocationInformation/MMEName") == "mme1.localdomain"
        assert pur(mme1, imsi=S6A_IMSI).result_code == 2001
        purged = user_state()
        assert purged.findtext(f"{eps}/EPSUserState") == str(PsUserState.NETWORK_DETERMINED_NOT_REACHABLE)
        location = purged.find(f"{eps}/EPSLocationInformation")
        assert location is not None and len(location) == 0
    store.close()
