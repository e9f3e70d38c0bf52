"""`sigcore run --workers 2`: HSS-initiated Cx requests (PPR, RTR) reach the S-CSCF holding the registration.

Two python-diameter S-CSCFs of one realm whose connections landed on different workers; the API requests
all go over one kept-alive HTTP connection, so one worker sends every PPR/RTR. Each S-CSCF in turn registers
the user (SAR); the profile change's PPR and the administrative deregistration's RTR must reach that S-CSCF
(the Destination-Host the HSS stored), also when the other worker holds its connection, and never the other
S-CSCF, although a peer of the same realm sits on the sending worker.
"""

from __future__ import annotations

import queue
import time
from contextlib import ExitStack
from urllib.parse import quote

import httpx
import pytest
from diameter.message.avp.grouped import VendorSpecificApplicationId
from diameter.message.commands import ServerAssignmentRequest
from diameter.message.constants import VENDOR_TGPP
from sigcore_process import HSS_HOST, REALM, Sigcore, worker_of

from interop.pydiameter_peer import APP_CX, PyDiameterPeer

pytestmark = [pytest.mark.interop, pytest.mark.slow]
IMPI = "alice@localdomain"
IMPU = "sip:alice@localdomain"
V1 = "/api/v1/ims"
REGISTRATION = 1
RTR, PPR = 304, 305


def _sar(scscf: PyDiameterPeer, name: str) -> int:
    req = scscf.prepare(ServerAssignmentRequest())
    req.vendor_specific_application_id = VendorSpecificApplicationId(vendor_id=VENDOR_TGPP, auth_application_id=APP_CX)
    req.user_name = IMPI
    req.public_identity = IMPU
    req.server_name = f"sip:{name}:6060"
    req.server_assignment_type = REGISTRATION
    req.user_data_already_available = 0
    return int(scscf.request(req).result_code)


def _state(http: httpx.Client) -> str:
    return str(http.get(f"{V1}/public-identities/{quote(IMPU, safe='')}").json()["registration"]["state"])


def _nothing_more(peer: PyDiameterPeer) -> None:
    with pytest.raises(queue.Empty):
        got = peer.next_request(timeout=0.5)
        pytest.fail(f"{peer.node.origin_host} got command {got.header.command_code}, meant for the other S-CSCF")


def test_ppr_and_rtr_reach_the_registering_scscf_on_either_worker(sigcore: Sigcore) -> None:
    added = sigcore.command("ims", "add", "--impi", IMPI, "--impu", IMPU, "--password", "secret")
    assert added.returncode == 0, added.stderr
    token = sigcore.command("token", "create", "--role", "provision").stdout.strip().splitlines()[-1]
    run = sigcore.start("--workers", "2", wait=False)
    for index in (0, 1):
        run.wait_for(rf"\[worker {index}\] sigcore \S+ \(\S+\) running", timeout=90)
    with ExitStack() as stack:
        where: dict[int, tuple[str, PyDiameterPeer]] = {}
        for n in range(1, 17):  # until each worker holds one S-CSCF's connection (the kernel hashes them)
            name = f"scscf{n}.localdomain"
            peer = PyDiameterPeer(name, REALM, APP_CX, remote_host=HSS_HOST, connect_port=sigcore.diameter_port)
            peer.node.validate_received_request_avps = False  # python-diameter 0.9 wants SIP-Auth-Data-Item in PPR
            stack.enter_context(peer)
            peer.wait_ready()
            deadline = time.monotonic() + 5
            while (worker := worker_of(run.log_text(), name)) is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert worker is not None, run.log_tail()
            where.setdefault(worker, (name, peer))
            if len(where) == 2:
                break
        assert len(where) == 2, where
        http = stack.enter_context(httpx.Client(base_url=sigcore.api_url, timeout=30,
                                                headers={"Authorization": f"Bearer {token}"}))
        for round_, (name, scscf) in enumerate(where.values()):
            other = next(p for n, p in where.values() if n != name)
            assert _sar(scscf, name) == 2001

            changed = http.patch(f"{V1}/service-profiles/default",
                                 json={"ccf_primary": f"aaa://ccf{round_}.localdomain"})
            assert changed.status_code == 200, changed.text
            ppr = scscf.next_request(timeout=10)
            assert ppr.header.command_code == PPR and ppr.destination_host == name.encode()

            accepted = http.post(f"{V1}/public-identities/{quote(IMPU, safe='')}/deregister")
            assert accepted.status_code == 202, accepted.text
            rtr = scscf.next_request(timeout=10)
            assert rtr.header.command_code == RTR and rtr.user_name == IMPI
            _nothing_more(other)
            deadline = time.monotonic() + 10  # the RTA's success clears the registration
            while _state(http) != "not_registered":
                assert time.monotonic() < deadline
                time.sleep(0.1)
