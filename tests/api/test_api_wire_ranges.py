"""Every API field that reaches an S6a AVP is refused (422) outside what the AVP can carry, and every value
the API accepts reaches the MME: a ULR for a subscriber provisioned with it is answered 2001.

Hypothesis draws the values from the schema's own boundaries (each bound, one past it, and values between
and far beyond), so a field whose API range is wider than its AVP's fails here.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from apiserver import provisioning_client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sigcore.api.schemas import BITRATE_MAX
from sigcore.store import Store, migrate
from support.s6a import OPC, HssThread, K, experimental, mme, new_kek, sqlite_url, ulr

pytestmark = [pytest.mark.interop, pytest.mark.slow]

U31 = 2**31 - 1
WB_E_UTRAN_NOT_ALLOWED, RAT_NOT_ALLOWED = 1 << 4, 5421  # Access-Restriction-Data bit of the harness's E-UTRAN
#: field -> (lowest, highest) the AVP it becomes can carry (TS 29.272 §7.3; AMBR: §7.3.41 with Extended-*)
SUBSCRIBER_RANGES = {"odb": (0, U31), "access_restriction": (0, U31), "tau_timer": (0, U31),
                     "ue_ambr_ul": (0, BITRATE_MAX), "ue_ambr_dl": (0, BITRATE_MAX)}
APN_RANGES = {"qci": (1, 255), "arp_priority": (1, 15), "ambr_ul": (0, BITRATE_MAX), "ambr_dl": (0, BITRATE_MAX)}
HOSTS = st.sampled_from(["pgw1.epc.example.org", "pgw", "bad host.example.org", "pgw..example.org", "é.example.org",
                         "x" * 64 + ".example.org", "pgw-2.mnc001.mcc001.3gppnetwork.org"])


def around(low: int, high: int) -> st.SearchStrategy[int]:
    edges = [low - 1, low, low + 1, high - 1, high, high + 1, 2**32, 2**32 * 10**6, 2**63, -(2**31)]
    return st.one_of(st.sampled_from(edges), st.integers(low, high), st.integers(high + 1, 2**64))


def in_range(name: str, value: int, ranges: dict[str, tuple[int, int]]) -> bool:
    low, high = ranges[name]
    return low <= value <= high


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, Any]]:
    url = sqlite_url(tmp_path_factory.mktemp("wire"))
    migrate(url)
    with Store(url, new_kek()) as store, HssThread(store) as hss, provisioning_client(store, hss) as http, \
            mme("mme1.localdomain", hss.port) as mme1:
        mme1.wait_ready()
        yield http, mme1


IMSIS = (f"00101{n:010d}" for n in itertools.count(1))
APN_NAMES = (f"apn{n}" for n in itertools.count(1))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.fixed_dictionaries({name: around(*r) for name, r in SUBSCRIBER_RANGES.items()}),
       st.fixed_dictionaries({name: around(*r) for name, r in APN_RANGES.items()}), HOSTS)
def test_accepted_values_reach_the_mme(running: tuple[httpx.Client, Any], subscriber: dict[str, int],
                                       apn: dict[str, int], pgw_host: str) -> None:
    http, mme1 = running
    apn_name = next(APN_NAMES)
    apn_ok = all(in_range(k, v, APN_RANGES) for k, v in apn.items())
    host_ok = pgw_host.isascii() and " " not in pgw_host and ".." not in pgw_host and "." in pgw_host \
        and all(len(label) < 64 for label in pgw_host.split("."))
    made = http.post("/api/v1/apns", json={"name": apn_name, **apn, "pgw_host": pgw_host})
    assert made.status_code == (201 if apn_ok and host_ok else 422), (apn, pgw_host, made.text)
    if not (apn_ok and host_ok):
        apn_name = "internet"
    sub_ok = all(in_range(k, v, SUBSCRIBER_RANGES) for k, v in subscriber.items())
    imsi = next(IMSIS)
    created = http.post("/api/v1/subscribers", json={"imsi": imsi, "ki": K.hex(), "opc": OPC.hex(),
                                                     "apns": [apn_name], **subscriber})
    assert created.status_code == (201 if sub_ok else 422), (subscriber, created.text)
    if not sub_ok:
        assert http.post("/api/v1/subscribers", json={"imsi": imsi, "ki": K.hex(), "opc": OPC.hex(),
                                                      "apns": [apn_name]}).status_code == 201
    ula = ulr(mme1, imsi)
    if sub_ok and subscriber["access_restriction"] & WB_E_UTRAN_NOT_ALLOWED:  # the MME's RAT is barred: §7.4.3.5
        assert experimental(ula) == RAT_NOT_ALLOWED, (subscriber, apn, pgw_host)
    else:
        assert ula.result_code == 2001, (subscriber, apn, pgw_host)
