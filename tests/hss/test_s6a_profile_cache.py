"""The ULR's profile cache: keyed by the stored profile version, so a change made by another process is in
the very next ULA (no TTL, no invalidation call), an unchanged profile is encoded once, and a refused ULR
writes nothing. python-diameter MMEs against a sigcore HSS on TCP, SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sigcore.store import Store
from sigcore.toolkit import tbcd
from support.s6a import IMSI, HssThread, experimental, mme, new_kek, provision, sqlite_url, ulr

pytestmark = [pytest.mark.interop]


@pytest.fixture
def kek() -> bytes:
    return new_kek()


@pytest.fixture
def store(tmp_path: Path, kek: bytes) -> Iterator[Store]:
    s = provision(sqlite_url(tmp_path), kek, msisdn="15550100001", apns=["internet"])
    yield s
    s.close()


@pytest.fixture
def other_process(tmp_path: Path, kek: bytes, store: Store) -> Iterator[Store]:
    """A second Store on the same database: what the CLI or another HSS process writes through."""
    s = Store(sqlite_url(tmp_path), kek)
    yield s
    s.close()


@pytest.fixture
def hss(store: Store) -> Iterator[HssThread]:
    with HssThread(store) as running:
        yield running


def _qci(ula: object) -> int:
    [apn] = ula.subscription_data.apn_configuration_profile.apn_configuration  # type: ignore[attr-defined]
    return int(apn.eps_subscribed_qos_profile.qos_class_identifier)


def test_change_by_another_process_is_in_the_next_ula(hss: HssThread, other_process: Store) -> None:
    with mme("mme1.localdomain", hss.port) as mme1:
        mme1.wait_ready()
        first = ulr(mme1)
        assert first.result_code == 2001 and tbcd.decode(first.subscription_data.msisdn) == "15550100001"
        assert _qci(first) == 9
        other_process.update_subscriber(IMSI, msisdn="15550100002")
        assert tbcd.decode(ulr(mme1).subscription_data.msisdn) == "15550100002"
        other_process.update_apn("internet", qci=7)  # a shared APN profile: every user's version moves
        assert _qci(ulr(mme1)) == 7


def test_unchanged_profile_is_encoded_once(hss: HssThread) -> None:
    profiles = hss.hss.handlers.profiles
    with mme("mme1.localdomain", hss.port) as mme1:
        mme1.wait_ready()
        assert ulr(mme1).result_code == 2001
        held = profiles.held(IMSI)
        assert held is not None
        encoded = held.subscription_data()
        assert ulr(mme1).result_code == 2001
        assert profiles.held(IMSI) is held and held.subscription_data() is encoded
        hss.store.update_subscriber(IMSI, tau_timer=600)
        assert ulr(mme1).result_code == 2001
        fresh = profiles.held(IMSI)
        assert fresh is not None and fresh is not held and fresh.subscriber.tau_timer == 600
        assert fresh.version[1] == held.version[1] + 1


def test_refused_ulr_writes_nothing(hss: HssThread, other_process: Store) -> None:
    with mme("mme1.localdomain", hss.port) as mme1, mme("mme2.localdomain", hss.port) as mme2:
        mme1.wait_ready()
        mme2.wait_ready()
        assert ulr(mme1).result_code == 2001
        other_process.update_subscriber(IMSI, access_restriction=1 << 4)  # WB-E-UTRAN not allowed
        assert experimental(ulr(mme2)) == 5421
        assert hss.store.get_serving(IMSI).mme.host == "mme1.localdomain"
        assert hss.hss.notifier.sent == []  # no CLR to mme1: it still serves the subscriber
        other_process.update_subscriber(IMSI, enabled=False)
        assert experimental(ulr(mme2)) == 5001
        assert hss.store.get_serving(IMSI).mme.host == "mme1.localdomain"
