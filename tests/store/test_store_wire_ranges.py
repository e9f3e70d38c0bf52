"""The store refuses what the S6a AVPs cannot carry, whoever writes (API, CLI, CSV import): an AMBR above
the Extended-Max-Requested-BW-* range would break every ULR of every subscriber using it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sigcore.store import InvalidValue, Store, migrate
from sigcore.store.validate import BITRATE_MAX


@pytest.fixture
def store(tmp_path: Path) -> Store:
    url = f"sqlite:///{tmp_path / 'hss.sqlite'}"
    migrate(url)
    return Store(url, os.urandom(32))


def test_ambr_beyond_the_extended_avps_is_refused(store: Store) -> None:
    store.add_apn("fast", ambr_ul=BITRATE_MAX, ambr_dl=BITRATE_MAX)
    with pytest.raises(InvalidValue, match=r"^ambr_dl"):
        store.add_apn("too-fast", ambr_dl=2**32 * 10**6)  # 2^32 Mbit/s
    store.add_subscriber("001010000000001", ki="00" * 16, opc="11" * 16, apns=["fast"])
    with pytest.raises(InvalidValue, match=r"^ue_ambr_ul"):
        store.update_subscriber("001010000000001", ue_ambr_ul=BITRATE_MAX + 1)


@pytest.mark.parametrize("host", ["bad host.example.org", "pgw", "pgw..example.org", "é.example.org"])
def test_pgw_identities_must_be_fqdns(store: Store, host: str) -> None:
    with pytest.raises(InvalidValue, match=r"^pgw_host"):
        store.add_apn("internet", pgw_host=host)
    with pytest.raises(InvalidValue, match=r"^pgw_realm"):
        store.add_apn("internet", pgw_realm=host)
    store.add_apn("internet", pgw_host="pgw1.epc.example.org", pgw_realm="epc.example.org")
