"""The S6a handlers in-process: sigcore-built requests, no socket, answers as the node would send them.

The same HSS `sigcore run` installs (`build_hss` on SQLite), its handlers called through
`support.handlers.served`; vectors are judged by the independent USIM model. The python-diameter runs
(test_s6a_procedures.py) cover the wire; these run in `make test-fast`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sigcore.config import parse_config
from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.aio import Node, NodeSettings
from sigcore.diameter.constants import FLAG_ERROR, VENDOR_3GPP
from sigcore.diameter.message import Message
from sigcore.hss.s6a.codes import S6A, AccessRestriction, Command, PuaFlags, S6aResult
from sigcore.hss.s6a.install import Hss, build_hss
from support.handlers import HSS_IDENTITY, context, served
from support.s6a import HOME_PLMN, IMSI, OPC, K, new_kek, provision, sqlite_url
from support.usim_model import Accepted, UsimModel

MME = "mme1.localdomain"
EUTRAN = 1004  # RAT-Type
ULR_INITIAL_ATTACH = 0b100010  # S6a/S6d-Indicator | Initial-Attach-Indicator


@pytest.fixture
async def hss(tmp_path: Path) -> AsyncIterator[Hss]:
    store = provision(sqlite_url(tmp_path), new_kek())
    node = Node(NodeSettings(HSS_IDENTITY, listen=[]))
    hss = build_hss(node, store, parse_config({"hss": {"max_vectors": 4}}))
    await hss.start()
    yield hss
    await hss.stop()
    store.close()


def s6a_request(command: Command, *avps: tuple[str, Any], origin: str = MME) -> Message:
    head: list[tuple[str, Any]] = [
        ("Session-Id", f"{origin};1;1"), ("Auth-Session-State", 1), ("Origin-Host", origin),
        ("Origin-Realm", "localdomain"), ("Destination-Realm", "localdomain"), ("User-Name", IMSI)]
    msg = D.message(int(command), S6A, 0xC0, [*head, *avps], 1, 1)
    D.validate(msg)  # the node checks the command's ABNF before a handler runs
    return msg


def air(vectors: int = 1, imsi: str = IMSI) -> Message:
    msg = s6a_request(Command.AIR, ("Visited-PLMN-Id", HOME_PLMN), ("Requested-EUTRAN-Authentication-Info", [
        ("Number-Of-Requested-Vectors", vectors), ("Immediate-Response-Preferred", 0)]))
    if imsi != IMSI:
        msg = D.message(msg.code, S6A, 0xC0, [a if a.code != 1 else D.build("User-Name", imsi) for a in msg.avps], 1, 1)
    return msg


def ulr(rat: int = EUTRAN, flags: int = ULR_INITIAL_ATTACH, origin: str = MME) -> Message:
    return s6a_request(Command.ULR, ("RAT-Type", rat), ("ULR-Flags", flags), ("Visited-PLMN-Id", HOME_PLMN),
                       origin=origin)


def experimental(answer: Message) -> int | None:
    found = answer.get("Experimental-Result")
    return None if found is None else int(found["Experimental-Result-Code"])


def assert_s6a_answer_avps(answer: Message) -> None:
    """TS 29.272 §7.2: every answer, errors included, names the application and has no session state."""
    application = answer["Vendor-Specific-Application-Id"]
    assert (application["Vendor-Id"], application["Auth-Application-Id"]) == (VENDOR_3GPP, S6A)
    assert answer["Auth-Session-State"] == 1


async def test_air_vectors_pass_the_usim_model_and_the_sqn_is_stored(hss: Hss) -> None:
    aia = await served(hss.handlers.application(), air(vectors=9))  # capped at hss.max_vectors (4)
    assert aia.get("Result-Code") == 2001
    assert_s6a_answer_avps(aia)
    usim = UsimModel(K, OPC)
    vectors = aia["Authentication-Info"].get_all("E-UTRAN-Vector")
    assert [v["Item-Number"] for v in vectors] == [1, 2, 3, 4]
    for v in vectors:
        outcome = usim.authenticate_eutran(v["RAND"], v["AUTN"], HOME_PLMN)
        assert isinstance(outcome, Accepted) and (outcome.res, outcome.kasme) == (v["XRES"], v["KASME"])
    assert hss.store.get_auth_material(IMSI).sqn == usim.sqn_ms


async def test_air_for_an_unknown_imsi_is_user_unknown_with_the_application_avps(hss: Hss) -> None:
    aia = await served(hss.handlers.application(), air(imsi="001019999999999"))
    assert experimental(aia) == S6aResult.USER_UNKNOWN and aia.get("Result-Code") is None
    assert not aia.flags & FLAG_ERROR  # an Experimental-Result is not a protocol error
    assert_s6a_answer_avps(aia)


async def test_ulr_registers_the_mme_and_sends_the_subscription(hss: Hss) -> None:
    ula = await served(hss.handlers.application(), ulr(), context(peer=MME))
    assert ula.get("Result-Code") == 2001
    assert_s6a_answer_avps(ula)
    apns = ula["Subscription-Data"]["APN-Configuration-Profile"].get_all("APN-Configuration")
    assert [apn["Service-Selection"] for apn in apns] == ["internet"]
    mme = hss.store.get_serving(IMSI).mme
    assert mme is not None and (mme.host, mme.peer, mme.purged) == (MME, MME, False)


async def test_ulr_on_a_restricted_rat_is_refused_and_writes_nothing(hss: Hss) -> None:
    hss.store.update_subscriber(IMSI, access_restriction=int(AccessRestriction.WB_E_UTRAN_NOT_ALLOWED))
    ula = await served(hss.handlers.application(), ulr(rat=EUTRAN))
    assert experimental(ula) == S6aResult.RAT_NOT_ALLOWED
    assert_s6a_answer_avps(ula)
    assert hss.store.get_serving(IMSI).mme is None


async def test_pur_from_the_serving_mme_freezes_and_nor_from_another_node_is_refused(hss: Hss) -> None:
    app = hss.handlers.application()
    await served(app, ulr())
    pua = await served(app, s6a_request(Command.PUR, ("PUR-Flags", 1)))
    assert pua.get("Result-Code") == 2001 and pua["PUA-Flags"] == PuaFlags.FREEZE_M_TMSI
    serving = hss.store.get_serving(IMSI).mme
    assert serving is not None and serving.purged
    noa = await served(app, s6a_request(Command.NOR, origin="mme9.localdomain"))
    assert experimental(noa) == S6aResult.UNKNOWN_SERVING_NODE
    assert_s6a_answer_avps(noa)
