"""SLh and S13 handlers called directly with sigcore-built requests: the malformed and edge cases an
independent client is not convenient for (missing identities, bad TBCD, bad IMEI, MEID only, SGSN only)."""

from __future__ import annotations

from typing import Any

import pytest

from sigcore.diameter import DICTIONARY as D
from sigcore.diameter.answers import Identity, result_of
from sigcore.diameter.message import Message
from sigcore.hss.s13.eir import Eir
from sigcore.hss.s13.handlers import ECR, S13, S13Server
from sigcore.hss.slh.handlers import RIR, SLH, GmlcPolicy, SlhServer
from sigcore.store import Store
from sigcore.store.eir import EirRepository
from sigcore.toolkit import tbcd
from support.handlers import served

from .conftest import IMEI_WHITE, IMSI, MSISDN, SGSN

IDENTITY = Identity("hss.localdomain", "localdomain")


def request(code: int, app: int, *pairs: tuple[str, Any], origin: str = "peer.localdomain",
            realm: str = "localdomain") -> Message:
    avps = [("Session-Id", f"{origin};1;1"), ("Auth-Session-State", 1), ("Origin-Host", origin),
            ("Origin-Realm", realm), ("Destination-Realm", "localdomain"), *pairs]
    msg = Message(code, app, 0xC0, 1, 1, D.build_many(avps))
    D.validate(msg)
    return msg


def check_answer(answer: Message) -> Message:
    assert answer.get("Auth-Session-State") == 1  # mandatory in RIA and ECA, errors included
    D.validate(answer)
    return answer


@pytest.fixture
def slh(store: Store) -> SlhServer:
    return SlhServer(store, IDENTITY, GmlcPolicy.of("localdomain", ["*"]))


@pytest.fixture
def s13(store: Store) -> S13Server:
    return S13Server(Eir(EirRepository(store)), IDENTITY)


async def test_rir_needs_an_identity(slh: SlhServer) -> None:
    answer = check_answer(await served(slh.application(), request(RIR, SLH)))
    assert result_of(answer) == 5005
    assert answer["Failed-AVP"].get("User-Name") is not None


async def test_rir_with_bad_tbcd_is_invalid(slh: SlhServer) -> None:
    answer = check_answer(await served(slh.application(), request(RIR, SLH, ("MSISDN", b"\x51\xfe"))))
    assert result_of(answer) == 5004


async def test_rir_sgsn_only_is_the_serving_node(slh: SlhServer, store: Store) -> None:
    store.purge(IMSI, node="mme")
    store.update_serving_sgsn(IMSI, SGSN, None, None)
    answer = check_answer(await served(slh.application(), request(RIR, SLH, ("MSISDN", tbcd.encode(MSISDN)))))
    assert result_of(answer) == 2001
    node = answer["Serving-Node"]
    assert (node["SGSN-Name"], node["SGSN-Realm"], node["LCS-Capabilities-Sets"]) == (SGSN, "localdomain", 16)
    assert node.get("MME-Name") is None and answer.get("Additional-Serving-Node") is None
    assert answer["User-Name"] == IMSI


def test_gmlc_policy() -> None:
    policy = GmlcPolicy.of("LocalDomain", ["gmlc.partner.example", "friends.example"])
    assert policy.allows("gmlc.localdomain", "localdomain")
    assert policy.allows("GMLC.Partner.Example", "partner.example")
    assert policy.allows("any.friends.example", "Friends.Example")
    assert not policy.allows("gmlc2.partner.example", "partner.example")
    assert GmlcPolicy.of("localdomain", ["*"]).allows("x.evil", "evil")


async def test_ecr_with_bad_imei_or_version_is_invalid(s13: S13Server, store: Store) -> None:
    for terminal in ([("IMEI", "3520990017614X")], [("IMEI", "352099")],
                     [("IMEI", IMEI_WHITE), ("Software-Version", "123")]):
        answer = check_answer(await served(s13.application(), request(ECR, S13, ("Terminal-Information", terminal))))
        assert result_of(answer) == 5004
        assert answer["Failed-AVP"]["Terminal-Information"] is not None
    assert EirRepository(store).history()[1] == 0  # nothing recorded for a refused request


@pytest.mark.parametrize("user_name", ["9" * 16, "00101000000000x", "12345"])
async def test_ecr_with_a_user_name_that_is_no_imsi_is_invalid(s13: S13Server, store: Store, user_name: str) -> None:
    """The history keeps the IMSI in 15 digits: SQLite recorded 40 of them, PostgreSQL and MariaDB failed the
    ECR with 5012. An IMSI is 6 to 15 digits; anything else is 5004 with the User-Name as Failed-AVP."""
    answer = check_answer(await served(s13.application(), request(
        ECR, S13, ("Terminal-Information", [("IMEI", IMEI_WHITE)]), ("User-Name", user_name))))
    assert result_of(answer) == 5004 and answer["Failed-AVP"]["User-Name"] == user_name
    assert EirRepository(store).history()[1] == 0


async def test_ecr_meid_only_is_unknown_equipment(s13: S13Server) -> None:
    meid = ("Terminal-Information", [("3GPP2-MEID", bytes.fromhex("a0000000001234"))])
    answer = check_answer(await served(s13.application(), request(ECR, S13, meid)))
    assert result_of(answer) == 5422 and answer.get("Equipment-Status") is None


async def test_ecr_imei_with_check_digit_and_imeisv(s13: S13Server, store: Store) -> None:
    for imei in (IMEI_WHITE + "1", IMEI_WHITE + "07"):
        ecr = request(ECR, S13, ("Terminal-Information", [("IMEI", imei)]))
        answer = check_answer(await served(s13.application(), ecr))
        assert (result_of(answer), answer["Equipment-Status"]) == (2001, 0)
    versions = [c.software_version for c in EirRepository(store).history()[0]]
    assert versions == ["07", None]
