"""APN names on every backend: case-insensitive (TS 23.003 §9.1: "Internet" is the APN "internet"), new
names follow the APN label rules, and case variants left by a database from before are named, not merged."""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import insert

from sigcore.store import Conflict, InvalidValue, NotFound, Store, SubscriberFilter
from sigcore.store import tables as t
from sigcore.store.apns import DEFAULT_APN_QOS
from sigcore.store.bulk import BulkImporter, NewSubscriber

KI = "465b5ce8b199b49faa5f0a2ee238a6bc"
OPC = "cd63cb71954a9f4e48a5994e37a02baf"


def _add(store: Store, imsi: str, **kwargs: object) -> None:
    store.add_subscriber(imsi, ki=KI, opc=OPC, **kwargs)  # type: ignore[arg-type]


def test_a_name_in_another_case_is_the_existing_profile(store: Store) -> None:
    internet = store.add_apn("internet", qci=7)
    added = store.add_subscriber("001010000000001", ki=KI, opc=OPC, apns=["Internet"])
    assert added.created_apns == ()  # was: a second profile "Internet" with the default QoS (QCI 9)
    assert [(a.name, a.profile.qci) for a in added.subscriber.apns] == [("internet", 7)]
    assert added.subscriber.default_apn == "internet"
    assert store.ensure_apn("INTERNET") == (internet, False)
    assert store.get_apn("iNtErNeT") == internet
    with pytest.raises(Conflict, match="'internet' already exists"):
        store.add_apn("Internet")
    assert [p.name for p in store.list_apns()] == ["internet"]
    assert store.update_apn("INTERNET", qci=8).qci == 8
    assert [s.imsi for s in store.list_subscribers(filters=SubscriberFilter(apn="Internet"))] == ["001010000000001"]
    assert store.count_subscribers(SubscriberFilter(apn="INTERNET")) == 1


def test_update_and_default_apn_in_another_case(store: Store) -> None:
    _add(store, "001010000000001", apns=["internet", "ims"])
    after = store.update_subscriber("001010000000001", apns=["IMS", "Internet"], default_apn="INTERNET")
    assert [a.name for a in after.apns] == ["ims", "internet"] and after.default_apn == "internet"
    assert store.update_subscriber("001010000000001", default_apn="Ims").default_apn == "ims"
    added = store.add_subscriber("001010000000002", ki=KI, opc=OPC, apns=["ims"], default_apn="IMS")
    assert [a.name for a in added.subscriber.apns] == ["ims"] and added.subscriber.default_apn == "ims"
    assert [p.name for p in store.list_apns()] == ["ims", "internet"]


def test_a_new_profile_keeps_the_operators_spelling(store: Store) -> None:
    assert store.add_subscriber("001010000000001", ki=KI, opc=OPC, apns=["Internet"]).created_apns == ("Internet",)
    assert store.add_subscriber("001010000000002", ki=KI, opc=OPC, apns=["internet"]).created_apns == ()
    assert [p.name for p in store.list_apns()] == ["Internet"]
    assert store.get_subscriber("001010000000002").apns[0].name == "Internet"


def test_one_apn_listed_twice_in_two_cases_is_refused(store: Store) -> None:
    with pytest.raises(InvalidValue, match="apns: an APN is listed twice \\('internet' and 'Internet'\\)"):
        _add(store, "001010000000001", apns=["internet", "Internet"])
    with pytest.raises(NotFound):
        store.get_subscriber("001010000000001")
    assert store.list_apns() == []


@pytest.mark.parametrize("name", ["internet", "iot.m2m", "a-b.C1", "x" * 63, ".".join(["x" * 48, "y" * 50])])
def test_a_name_by_the_label_rules_is_accepted(store: Store, name: str) -> None:
    assert store.add_apn(name).name == name


@pytest.mark.parametrize("name", ["\N{GRINNING FACE}", "inter_net", "a..b", ".internet", "internet.", "x" * 64,
                                  "*", "caf\N{LATIN SMALL LETTER E WITH ACUTE}", ".".join(["x" * 49, "y" * 50])])
def test_a_name_outside_the_label_rules_is_refused_naming_it(store: Store, name: str) -> None:
    with pytest.raises(InvalidValue, match=re.escape(f"apn: {name!r} is not an APN name")) as refused:
        store.add_apn(name)
    assert "\n" not in str(refused.value)
    with pytest.raises(InvalidValue, match="is not an APN name"):
        _add(store, "001010000000001", apns=[name])
    with pytest.raises(NotFound):
        store.get_subscriber("001010000000001")
    assert store.list_apns() == []


def _create_at_once(store: Store, spellings: list[str]) -> list[BaseException]:
    """`add_apn` of every spelling from its own thread, all released together; the errors but Conflict."""
    start = threading.Barrier(len(spellings))
    errors: list[BaseException] = []

    def create(name: str) -> None:
        start.wait()
        try:
            store.add_apn(name)
        except Conflict:
            pass
        except BaseException as err:  # reported by the caller
            errors.append(err)

    threads = [threading.Thread(target=create, args=(name,)) for name in spellings]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_concurrent_creators_of_one_apn_in_several_cases_make_one_profile(store: Store) -> None:
    # PostgreSQL's unique index compares exact spellings: without a lock most rounds made two or more
    for n in range(5):
        assert _create_at_once(store, [f"apn{n}", f"APN{n}", f"Apn{n}", f"aPN{n}"] * 2) == []
    assert sorted(p.name.lower() for p in store.list_apns()) == [f"apn{n}" for n in range(5)]


def _row(line: int, *apns: str) -> NewSubscriber:
    return NewSubscriber(line=line, imsi=f"00101000000000{line}", ki=bytes(16), opc=bytes(16), apns=apns)


@pytest.mark.parametrize("dry_run", [True, False])
def test_bulk_import_rejects_the_rows_of_a_bad_new_apn_name(store: Store, dry_run: bool) -> None:
    importer = BulkImporter(store, dry_run=dry_run)
    importer.add([_row(1, "internet"), _row(2, "\N{GRINNING FACE}"), _row(3, "ims", "\N{GRINNING FACE}")])
    assert (importer.result.imported, importer.result.created_apns) == (1, ["internet"])
    assert [(r.line, r.reason.split(" (")[0]) for r in importer.result.rejected] == [
        (2, "apn: '\N{GRINNING FACE}' is not an APN name"), (3, "apn: '\N{GRINNING FACE}' is not an APN name")]
    assert [p.name for p in store.list_apns()] == ([] if dry_run else ["internet"])


@pytest.mark.parametrize("dry_run", [True, False])
def test_bulk_import_makes_one_profile_of_an_apn_in_several_cases(store: Store, dry_run: bool) -> None:
    importer = BulkImporter(store, dry_run=dry_run)
    importer.add([_row(1, "Internet"), _row(2, "internet", "ims"), _row(3, "IMS")])
    assert (importer.result.imported, importer.result.created_apns, importer.result.rejected) == (
        3, ["IMS", "Internet"], [])
    if not dry_run:
        assert [p.name for p in store.list_apns()] == ["IMS", "Internet"]
        assert [a.name for a in store.get_subscriber("001010000000002").apns] == ["Internet", "IMS"]


@pytest.fixture
def case_variants(store: Store) -> Store:
    """A database from before: "Internet" (QCI 5) and "internet" (QCI 9) as two profiles."""
    if store.engine.dialect.name in ("mysql", "mariadb"):
        pytest.skip("MariaDB's case-insensitive collation never let the two in (the unique index on name)")
    with store.writing() as conn:
        conn.execute(insert(t.apn_profiles), [{**DEFAULT_APN_QOS, "name": "Internet", "qci": 5},
                                              {**DEFAULT_APN_QOS, "name": "internet"}])
    return store


def test_case_variants_from_before_are_kept_and_named(case_variants: Store) -> None:
    store = case_variants
    assert store.get_apn("Internet").qci == 5 and store.get_apn("internet").qci == 9  # the exact spelling wins
    _add(store, "001010000000001", apns=["Internet"])
    assert store.get_subscriber("001010000000001").apns[0].profile.qci == 5
    assert store.count_subscribers(SubscriberFilter(apn="internet")) == 0
    for attempt in (lambda: store.get_apn("INTERNET"), lambda: store.ensure_apn("INTERNET"),
                    lambda: _add(store, "001010000000002", apns=["INTERNET"])):
        with pytest.raises(InvalidValue, match="'INTERNET' matches APN profiles 'Internet' and 'internet'"):
            attempt()
    assert store.apn_case_variants() == [["Internet", "internet"]]
    assert [(p.name, p.qci) for p in store.list_apns()] == [("Internet", 5), ("internet", 9)]  # nothing merged
    store.delete_apn("internet")
    assert store.apn_case_variants() == [] and store.get_apn("INTERNET").qci == 5
