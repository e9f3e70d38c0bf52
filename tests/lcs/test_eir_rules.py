"""EIR decisions (precedence, IMSI binding, IMEI forms) and the rule/history repository on every backend."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigcore.hss.s13.eir import Eir, InvalidImei, choose_rule, luhn_ok, normalise_imei
from sigcore.store import Conflict, InvalidValue, NotFound, Store, migrate
from sigcore.store.eir import EirRepository, EirRule, EquipmentStatus

W, B, G = EquipmentStatus.WHITELISTED, EquipmentStatus.BLACKLISTED, EquipmentStatus.GREYLISTED
IMEI = "35209900176148"
IMSI_A, IMSI_B = "001010000000001", "001010000000002"

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.interop),
            pytest.param("mariadb", marks=pytest.mark.interop)]


@pytest.fixture(params=BACKENDS)
def rules(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EirRepository]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'eir.sqlite'}"
    else:
        url = str(request.getfixturevalue(f"{request.param}_url".replace("postgresql", "postgres")))
    migrate(url)
    with Store(url, os.urandom(32)) as store:
        yield EirRepository(store)


def rule(rule_id: int, pattern: str, status: EquipmentStatus, *, imsi: str | None = None) -> EirRule:
    return EirRule(rule_id, pattern, len(pattern) == 14, imsi, status)


def test_luhn_and_imei_forms() -> None:
    assert luhn_ok("490154203237518") and not luhn_ok("490154203237519")
    assert normalise_imei("49015420323751") == ("49015420323751", None)
    assert normalise_imei("49-015420-323751-8") == ("49015420323751", None)
    assert normalise_imei("4901542032375107") == ("49015420323751", "07")  # IMEISV
    with pytest.raises(InvalidImei, match="check digit"):
        normalise_imei("490154203237519")
    assert normalise_imei("490154203237519", strict_check_digit=False)[0] == "49015420323751"
    for bad in ("4901542032375", "49015420323751x", "490154203237510001"):
        with pytest.raises(InvalidImei):
            normalise_imei(bad)


def test_precedence_exact_then_longest_prefix_then_imsi_binding() -> None:
    tac, longer, exact = rule(1, IMEI[:8], B), rule(2, IMEI[:10], G), rule(3, IMEI, W)
    assert choose_rule([tac, longer, exact], IMEI, None) is exact
    assert choose_rule([tac, longer], IMEI, None) is longer
    assert choose_rule([tac], IMEI, None) is tac
    assert choose_rule([tac], "35209911111111", None) is None  # another TAC
    bound = rule(4, IMEI, G, imsi=IMSI_A)
    assert choose_rule([exact, bound], IMEI, IMSI_A) is bound  # equally specific: the bound one wins
    assert choose_rule([exact, bound], IMEI, IMSI_B) is exact  # never decides for another IMSI
    assert choose_rule([tac, rule(5, IMEI[:8], W, imsi=IMSI_A)], IMEI, None) is tac
    assert choose_rule([rule(6, IMEI[:8], W, imsi=IMSI_A), exact], IMEI, IMSI_A) is exact  # IMEI first


def test_repository_rules_candidates_and_history(rules: EirRepository) -> None:
    tac = rules.add_rule(IMEI[:8], "blacklisted", exact=False, comment="stolen")
    exact = rules.add_rule(IMEI, W, exact=True)
    bound = rules.add_rule(IMEI, G, exact=True, imsi=IMSI_A)
    rules.add_rule("9900", B, exact=False)
    with pytest.raises(Conflict):
        rules.add_rule(IMEI[:8], W, exact=False)
    with pytest.raises(InvalidValue, match="imei"):
        rules.add_rule(IMEI[:8], W, exact=True)
    with pytest.raises(InvalidValue, match="status"):
        rules.add_rule(IMEI, "purple", exact=False)
    assert {r.id for r in rules.candidates(IMEI, None)} == {tac.id, exact.id}
    assert {r.id for r in rules.candidates(IMEI, IMSI_A)} == {tac.id, exact.id, bound.id}
    assert rules.get_rule(tac.id).comment == "stolen"
    assert [r.pattern for r in rules.list_rules()] == [IMEI[:8], IMEI, IMEI, "9900"]

    eir = Eir(rules)
    assert eir.check(IMEI, imsi=IMSI_A, software_version="01", origin_host="mme1").status is G
    assert eir.check("35209900000000").status is B
    assert eir.check("11111111111111").status is None
    assert Eir(rules, unknown_status=W, record_history=False).check("11111111111111").status is W
    rules.delete_rule(bound.id)
    with pytest.raises(NotFound):
        rules.delete_rule(bound.id)
    assert eir.check(IMEI, imsi=IMSI_A).rule.id == exact.id  # type: ignore[union-attr]

    checks, total = rules.history()
    assert total == 4 and [c.imei for c in checks] == [IMEI, "11111111111111", "35209900000000", IMEI]
    first = checks[-1]
    assert (first.status, first.rule_id, first.imsi, first.software_version, first.origin_host) == (
        G, bound.id, IMSI_A, "01", "mme1")  # the deleted rule's checks stay
    assert checks[1].status is None and checks[1].rule_id is None
    assert rules.history(imei=IMEI)[1] == 2
