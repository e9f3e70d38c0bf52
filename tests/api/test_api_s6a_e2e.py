"""End to end: provision over the API, attach with an S6a MME, change the profile, see the IDR/CLR.

The API and the HSS share one node and one event loop, as in `sigcore run`; the MME is python-diameter
(an independent implementation), talking to the HSS over TCP on loopback.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from sigcore.api import create_app
from sigcore.api.service import ApiServer
from sigcore.applications import Services
from sigcore.store import Store, migrate
from sigcore.store.tokens import Role, TokenRepository
from support.s6a import HOME_PLMN, IMSI, OPC, HssThread, K, air, mme, new_kek, sqlite_url, ulr
from support.usim_model import Accepted, UsimModel

pytestmark = [pytest.mark.interop]


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[HssThread, httpx.Client]]:
    url = sqlite_url(tmp_path)
    migrate(url)
    with Store(url, new_kek()) as store, HssThread(store) as hss:
        api = ApiServer(create_app(store, Services(notifier=hss.hss.notifier, node=hss.node)), "127.0.0.1", 0)
        hss.run(api.start())
        token = TokenRepository(store).create(Role.PROVISION, "bss").secret
        try:
            with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
                yield hss, http
        finally:
            hss.run(api.stop())


def test_provision_attach_then_apn_ambr_change_reaches_the_mme(running: tuple[HssThread, httpx.Client]) -> None:
    hss, http = running
    created = http.post("/api/v1/subscribers", json={"imsi": IMSI, "msisdn": "15550100001", "ki": K.hex(),
                                                     "opc": OPC.hex(), "amf": "8000", "sqn": 0, "apns": ["internet"]})
    assert created.status_code == 201, created.text
    usim = UsimModel(K, OPC)
    with mme("mme1.localdomain", hss.port) as mme1:
        mme1.wait_ready()
        aia = air(mme1, vectors=1)
        assert aia.result_code == 2001
        vector = aia.authentication_info.e_utran_vector[0]
        outcome = usim.authenticate_eutran(vector.rand, vector.autn, HOME_PLMN)
        assert isinstance(outcome, Accepted) and outcome.res == vector.xres
        assert ulr(mme1).result_code == 2001
        serving = http.get(f"/api/v1/subscribers/{IMSI}/serving").json()
        assert serving["mme"]["host"] == "mme1.localdomain"
        peer = http.get("/api/v1/peers/mme1.localdomain").json()
        assert peer["open"] and 16777251 in peer["applications"]

        assert http.patch("/api/v1/apns/internet", json={"ambr_ul": 2_000_000, "ambr_dl": 9_000_000}).status_code == 200
        idr = mme1.next_request(timeout=10)
        assert idr.header.command_code == 319 and idr.user_name == IMSI
        apn = idr.subscription_data.apn_configuration_profile.apn_configuration[0]
        assert apn.service_selection == "internet"
        assert (apn.ambr.max_requested_bandwidth_ul, apn.ambr.max_requested_bandwidth_dl) == (2_000_000, 9_000_000)

        assert http.patch(f"/api/v1/subscribers/{IMSI}", json={"ue_ambr_dl": 50_000_000}).status_code == 200
        idr = mme1.next_request(timeout=10)
        assert idr.header.command_code == 319
        assert idr.subscription_data.ambr.max_requested_bandwidth_dl == 50_000_000

        assert http.patch(f"/api/v1/subscribers/{IMSI}", json={"enabled": False}).status_code == 200
        clr = mme1.next_request(timeout=10)
        assert clr.header.command_code == 317 and clr.cancellation_type == 2  # SUBSCRIPTION_WITHDRAWAL
        wait_until(lambda: ("CLR", IMSI, 2001) in hss.hss.notifier.sent)  # the MME answered, over Diameter
    assert [c for c, _, result in hss.hss.notifier.sent if result == 2001] == ["IDR", "IDR", "CLR"]


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.02)
