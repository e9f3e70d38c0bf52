"""APN names on every backend: new names follow the APN label rules (TS 23.003 §9.1)."""

from __future__ import annotations

import re

import pytest

from sigcore.store import InvalidValue, NotFound, Store
from sigcore.store.bulk import BulkImporter, NewSubscriber

KI = "465b5ce8b199b49faa5f0a2ee238a6bc"
OPC = "cd63cb71954a9f4e48a5994e37a02baf"


def _add(store: Store, imsi: str, **kwargs: object) -> None:
    store.add_subscriber(imsi, ki=KI, opc=OPC, **kwargs)  # type: ignore[arg-type]


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
