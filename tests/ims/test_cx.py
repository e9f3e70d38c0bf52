"""Cx/Dx semantics (TS 29.228/29.229) of `CxService`, request by request, without outside programs.

Every User-Data the HSS returns is validated against the TS 29.228 schema.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.aio import Node, NodeSettings
from sigcore.diameter.answers import Identity, result_of
from sigcore.diameter.message import Message
from sigcore.hss.cx.handlers import CxService
from sigcore.hss.ims.codes import CX_APP, AssignmentType, CxCommand, CxResult
from sigcore.hss.ims.documents import validate_cx
from sigcore.store import Store
from sigcore.store.ims import Ifc, RegState
from support.handlers import served
from support.usim_model import Accepted, SyncFailure, UsimModel

from .hss_fixture import ALICE, BOB, HSS_HOST, OPC, REALM, K, make_store

SCSCF = "sip:scscf.localdomain:6060"
CTX: Any = SimpleNamespace(node=SimpleNamespace(identity=Identity(HSS_HOST, REALM)))


@pytest.fixture
def cx(tmp_path: Path) -> CxService:
    store = make_store(tmp_path, scscf=SCSCF)
    service = CxService(store)
    service.settings.home_networks = (REALM,)
    return service


def _req(code: int, *avps: tuple[str, Any]) -> Message:
    head = [("Session-Id", "scscf.localdomain;1;1"),
            ("Vendor-Specific-Application-Id", [("Vendor-Id", 10415), ("Auth-Application-Id", CX_APP)]),
            ("Auth-Session-State", 1), ("Origin-Host", "scscf.localdomain"), ("Origin-Realm", REALM),
            ("Destination-Realm", REALM)]
    return Message(code, CX_APP, 0xC0, 1, 1, D.build_many(head + list(avps)))


async def uar(cx: CxService, impi: str, impu: str, visited: str = REALM, auth_type: int = 0) -> Message:
    return await served(cx.application(), _req(CxCommand.UAR, ("User-Name", impi), ("Public-Identity", impu),
                                ("Visited-Network-Identifier", visited.encode()),
                                ("User-Authorization-Type", auth_type)), CTX)


async def mar(cx: CxService, impi: str, impu: str, scheme: str, n: int = 1,
              authorization: bytes | None = None) -> Message:
    item: list[tuple[str, Any]] = [("SIP-Authentication-Scheme", scheme)]
    if authorization is not None:
        item.append(("SIP-Authorization", authorization))
    return await served(cx.application(), _req(CxCommand.MAR, ("User-Name", impi), ("Public-Identity", impu),
                                ("SIP-Auth-Data-Item", item), ("SIP-Number-Auth-Items", n),
                                ("Server-Name", SCSCF)), CTX)


async def sar(cx: CxService, impu: str, sat: int, impi: str | None = None, server: str = SCSCF) -> Message:
    avps: list[tuple[str, Any]] = [("User-Name", impi)] if impi else []
    avps += [("Public-Identity", impu), ("Server-Name", server), ("Server-Assignment-Type", sat),
             ("User-Data-Already-Available", 0)]
    return await served(cx.application(), _req(CxCommand.SAR, *avps), CTX)


async def test_uar_first_then_subsequent_registration(cx: CxService) -> None:
    impi, impus, _ = ALICE
    first = await uar(cx, impi, impus[0])
    assert result_of(first) == CxResult.FIRST_REGISTRATION
    caps = first["Server-Capabilities"]
    assert caps.get("Server-Name") == SCSCF and first.get("Server-Name") is None
    assert result_of(await sar(cx, impus[0], AssignmentType.REGISTRATION, impi)) == 2001
    again = await uar(cx, impi, impus[1])  # any identity of the implicit set
    assert result_of(again) == CxResult.SUBSEQUENT_REGISTRATION and again["Server-Name"] == SCSCF


async def test_the_hss_realm_is_a_home_network_without_settings(tmp_path: Path) -> None:
    """A Cx service made for a node with no `home_networks` counts the node's own realm as home, so a UAR
    visiting from it is not refused as roaming (Kamailio's I-CSCF sends exactly that)."""
    node = Node(NodeSettings(Identity(HSS_HOST, REALM), listen=[]))
    cx = CxService(make_store(tmp_path, scscf=SCSCF), node=node)
    impi, impus, _ = ALICE
    assert result_of(await uar(cx, impi, impus[0], visited=REALM)) == CxResult.FIRST_REGISTRATION


async def test_uar_errors(cx: CxService) -> None:
    impi, impus, _ = ALICE
    assert result_of(await uar(cx, "nobody@localdomain", impus[0])) == CxResult.USER_UNKNOWN
    assert result_of(await uar(cx, impi, "sip:nobody@localdomain")) == CxResult.USER_UNKNOWN
    assert result_of(await uar(cx, impi, BOB[1][0])) == CxResult.IDENTITIES_DONT_MATCH
    assert result_of(await uar(cx, impi, impus[0], visited="other.net")) == CxResult.ROAMING_NOT_ALLOWED
    assert result_of(await uar(cx, impi, impus[0], auth_type=1)) == CxResult.IDENTITY_NOT_REGISTERED
    for impu in impus:
        cx.ims.set_barred(impu, True)
    barred = await uar(cx, impi, impus[0])
    assert barred["Result-Code"] == 5003  # DIAMETER_AUTHORIZATION_REJECTED, a base code


async def test_mar_aka_returns_n_vectors_the_usim_accepts_and_resyncs(cx: CxService) -> None:
    impi, impus = BOB
    maa = await mar(cx, impi, impus[0], "Digest-AKAv1-MD5", n=3)
    assert result_of(maa) == 2001 and maa["SIP-Number-Auth-Items"] == 3
    items = D.get_values(maa.avps, "SIP-Auth-Data-Item")
    assert [i["SIP-Item-Number"] for i in items] == [1, 2, 3]
    usim = UsimModel(K, OPC)
    for item in items:
        outcome = usim.authenticate(item["SIP-Authenticate"][:16], item["SIP-Authenticate"][16:])
        assert isinstance(outcome, Accepted) and outcome.res == item["SIP-Authorization"]
        assert outcome.ck == item["Confidentiality-Key"] and outcome.ik == item["Integrity-Key"]
    # The card moves far ahead (e.g. used elsewhere): the next vector is stale, the UE answers with AUTS
    usim.seq_ms = [s + 1000 for s in usim.seq_ms]
    stale = D.get_values((await mar(cx, impi, impus[0], "Digest-AKAv1-MD5")).avps, "SIP-Auth-Data-Item")[0]
    rand = stale["SIP-Authenticate"][:16]
    failure = usim.authenticate(rand, stale["SIP-Authenticate"][16:])
    assert isinstance(failure, SyncFailure)
    resynced = await mar(cx, impi, impus[0], "Digest-AKAv1-MD5", authorization=rand + failure.auts)
    fresh = D.get_values(resynced.avps, "SIP-Auth-Data-Item")[0]
    assert isinstance(usim.authenticate(fresh["SIP-Authenticate"][:16], fresh["SIP-Authenticate"][16:]), Accepted)


async def test_mar_digest_gives_ha1_never_the_password(cx: CxService) -> None:
    impi, impus, password = ALICE
    maa = await mar(cx, impi, impus[0], "SIP Digest", n=5)
    items = D.get_values(maa.avps, "SIP-Auth-Data-Item")
    assert len(items) == 1 and items[0]["SIP-Authentication-Scheme"] == "SIP Digest"
    digest = items[0]["SIP-Digest-Authenticate"]
    assert digest["Digest-HA1"] == hashlib.md5(f"{impi}:{REALM}:{password}".encode()).hexdigest()
    assert digest["Digest-Realm"] == REALM and digest["Digest-QoP"] == "auth"
    assert password.encode() not in maa.encode()
    assert result_of(await mar(cx, impi, impus[0], "Digest-AKAv1-MD5")) == CxResult.AUTH_SCHEME_NOT_SUPPORTED
    assert cx.ims.get_impu(impus[0]).reg_state == RegState.AUTH_PENDING  # type: ignore[union-attr]


@pytest.mark.parametrize("sat, state, keeps_name", [
    (AssignmentType.REGISTRATION, RegState.REGISTERED, True),
    (AssignmentType.RE_REGISTRATION, RegState.REGISTERED, True),
    (AssignmentType.UNREGISTERED_USER, RegState.UNREGISTERED, True),
    (AssignmentType.TIMEOUT_DEREGISTRATION, RegState.NOT_REGISTERED, False),
    (AssignmentType.USER_DEREGISTRATION, RegState.NOT_REGISTERED, False),
    (AssignmentType.TIMEOUT_DEREGISTRATION_STORE_SERVER_NAME, RegState.NOT_REGISTERED, True),
    (AssignmentType.USER_DEREGISTRATION_STORE_SERVER_NAME, RegState.NOT_REGISTERED, True),
    (AssignmentType.ADMINISTRATIVE_DEREGISTRATION, RegState.NOT_REGISTERED, False),
    (AssignmentType.AUTHENTICATION_FAILURE, RegState.NOT_REGISTERED, False),
    (AssignmentType.AUTHENTICATION_TIMEOUT, RegState.NOT_REGISTERED, False),
    (AssignmentType.DEREGISTRATION_TOO_MUCH_DATA, RegState.NOT_REGISTERED, False),
])
async def test_sar_every_assignment_type(cx: CxService, sat: int, state: RegState, keeps_name: bool) -> None:
    impi, impus, _ = ALICE
    cx.ims.update_profile("default", ccf_primary="aaa://ccf.localdomain", ecf_primary="aaa://ocs.localdomain")
    saa = await sar(cx, impus[0], sat, impi)
    assert result_of(saa) == 2001 and saa["User-Name"] == impi
    for impu in impus:  # the whole implicit set moves together
        stored = cx.ims.get_impu(impu)
        assert stored is not None and stored.reg_state == state
        assert (stored.scscf_name == SCSCF) is keeps_name
    if sat in (AssignmentType.REGISTRATION, AssignmentType.RE_REGISTRATION, AssignmentType.UNREGISTERED_USER):
        validate_cx(saa["User-Data"])
        assert saa["Charging-Information"].get("Primary-Charging-Collection-Function-Name") == "aaa://ccf.localdomain"
        assert b"tel:+15551234" in saa["User-Data"]


async def test_sar_no_assignment_and_errors(cx: CxService) -> None:
    impi, impus, _ = ALICE
    assert (await sar(cx, impus[0], AssignmentType.NO_ASSIGNMENT, impi))["Result-Code"] == 5012
    await sar(cx, impus[0], AssignmentType.REGISTRATION, impi)
    data = await sar(cx, impus[0], AssignmentType.NO_ASSIGNMENT, impi)
    validate_cx(data["User-Data"])
    other = await sar(cx, impus[0], AssignmentType.UNREGISTERED_USER, server="sip:other:6060")
    assert result_of(other) == CxResult.IDENTITY_ALREADY_REGISTERED
    assert result_of(await sar(cx, impus[0], 99, impi)) == CxResult.IN_ASSIGNMENT_TYPE
    assert result_of(await sar(cx, "sip:nobody@localdomain", 1, impi)) == CxResult.USER_UNKNOWN
    assert result_of(await sar(cx, BOB[1][0], 1, impi)) == CxResult.IDENTITIES_DONT_MATCH


async def test_lir_and_user_data_with_ifcs(cx: CxService) -> None:
    impi, impus, _ = ALICE
    lia = await served(cx.application(), _req(CxCommand.LIR, ("Public-Identity", impus[0])), CTX)
    assert result_of(lia) == CxResult.IDENTITY_NOT_REGISTERED
    cx.ims.add_ifc("default", Ifc(10, "sip:mmtel.localdomain", method="INVITE", session_case=0))
    cx.ims.add_ifc(None, Ifc(20, "sip:voicemail.localdomain", session_case=2, profile_part=1), shared_set=7)
    cx.ims.use_shared_ifc_set("default", 7)
    lia = await served(cx.application(), _req(CxCommand.LIR, ("Public-Identity", impus[0])), CTX)
    assert result_of(lia) == CxResult.UNREGISTERED_SERVICE and lia.get("Server-Capabilities") is not None
    saa = await sar(cx, impus[0], AssignmentType.REGISTRATION, impi)
    validate_cx(saa["User-Data"])
    assert b"<SharedIFCSetID>7</SharedIFCSetID>" in saa["User-Data"] and b"sip:mmtel.localdomain" in saa["User-Data"]
    lia = await served(cx.application(), _req(CxCommand.LIR, ("Public-Identity", impus[1])), CTX)
    assert lia["Result-Code"] == 2001 and lia["Server-Name"] == SCSCF


async def test_wildcarded_psi(cx: CxService) -> None:
    cx.ims.add_psi("sip:conf!.*!@localdomain", wildcard="sip:conf!.*!@localdomain", scscf=SCSCF)
    lia = await served(cx.application(), _req(CxCommand.LIR, ("Public-Identity", "sip:conf42@localdomain")), CTX)
    assert lia.get("Wildcarded-Public-Identity") == "sip:conf!.*!@localdomain"


def test_store_keeps_only_ha1(tmp_path: Path) -> None:
    store: Store = make_store(tmp_path)
    with store.engine.connect() as conn:
        dump = "\n".join(str(r) for r in conn.exec_driver_sql("SELECT * FROM ims_private_identities"))
    assert ALICE[2] not in dump
    assert hashlib.md5(f"{ALICE[0]}:{REALM}:{ALICE[2]}".encode()).hexdigest() in dump


async def test_a_server_name_longer_than_the_store_keeps_is_5004(cx: CxService) -> None:
    """The IMPU's row keeps its S-CSCF name in 255 characters: SQLite kept a longer one, PostgreSQL and
    MariaDB failed the SAR (and MAR) with 5012. Now 5004 with the Server-Name as Failed-AVP, before any change."""
    impi, impus, _ = ALICE
    long_name = "sip:" + "s" * 240 + ".localdomain:6060"
    saa = await sar(cx, impus[0], AssignmentType.REGISTRATION, impi, server=long_name)
    assert saa["Result-Code"] == 5004 and saa["Failed-AVP"]["Server-Name"] == long_name
    stored = cx.ims.get_impu(impus[0])
    assert stored is not None and stored.reg_state == RegState.NOT_REGISTERED and stored.scscf_name is None
    maa = await served(cx.application(), _req(CxCommand.MAR, ("User-Name", impi), ("Public-Identity", impus[0]),
                                              ("SIP-Auth-Data-Item", [("SIP-Authentication-Scheme", "SIP Digest")]),
                                              ("SIP-Number-Auth-Items", 1), ("Server-Name", long_name)), CTX)
    assert maa["Result-Code"] == 5004
    assert result_of(await sar(cx, impus[0], AssignmentType.REGISTRATION, impi, server=long_name[:255])) == 2001
