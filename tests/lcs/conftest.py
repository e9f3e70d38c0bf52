"""Fixtures of the SLh/S13 tests: a provisioned store, and tshark from the interop harness."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from interop.conftest import tshark_capture  # noqa: F401  (fixture)
from sigcore.store import Store
from sigcore.store.eir import EirRepository

from .harness import new_store

IMSI = "001010000000001"
MSISDN = "15550100001"
IMSI_SGSN = "001010000000002"  # served by an MME and an SGSN
IMSI_DETACHED = "001010000000003"  # known, never registered
IMSI_PURGED = "001010000000004"  # its MME purged it
IMSI_OTHER = "001010000000005"
MSISDN_OTHER = "15550100005"
MME = "mme1.localdomain"
SGSN = "sgsn1.localdomain"
KEY = "465b5ce8b199b49faa5f0a2ee238a6bc"

TAC_BLACK = "35209900"  # a stolen batch
IMEI_WHITE = "35209900176148"  # one device of that batch, cleared
IMEI_PAIRED = "35345678901234"  # greylisted for IMSI only; otherwise unknown
IMEI_UNKNOWN = "99000000000001"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = new_store(tmp_path)
    for imsi, msisdn in ((IMSI, MSISDN), (IMSI_SGSN, None), (IMSI_DETACHED, None), (IMSI_PURGED, None),
                         (IMSI_OTHER, MSISDN_OTHER)):
        s.add_subscriber(imsi, ki=KEY, opc=KEY, msisdn=msisdn)
    s.update_serving_mme(IMSI, MME, "localdomain", MME)
    s.update_serving_mme(IMSI_SGSN, MME, "localdomain", MME)
    s.update_serving_sgsn(IMSI_SGSN, SGSN, "localdomain", SGSN)
    s.update_serving_mme(IMSI_PURGED, MME, "localdomain", MME)
    assert s.purge(IMSI_PURGED, MME)
    rules = EirRepository(s)
    rules.add_rule(TAC_BLACK, "blacklisted", exact=False, comment="stolen batch")
    rules.add_rule(IMEI_WHITE, "whitelisted", exact=True)
    rules.add_rule(IMEI_PAIRED, "greylisted", exact=True, imsi=IMSI)
    yield s
    s.close()
