"""`sigcore run --workers 2`: HSS-initiated Cx and Sh requests (PPR, RTR, PNR) reach the peer holding the state.

Two python-diameter S-CSCFs of one realm whose connections landed on different workers; the API requests
all go over one kept-alive HTTP connection, so one worker sends every PPR/RTR. Each S-CSCF in turn registers
the user (SAR); the profile change's PPR and the administrative deregistration's RTR must reach that S-CSCF
(the Destination-Host the HSS stored), also when the other worker holds its connection, and never the other
S-CSCF, although a peer of the same realm sits on the sending worker. Likewise a PNR (after a SAR changes
the IMS user state) goes to the AS that subscribed, not to another AS on the worker that took the SAR.
"""

from __future__ import annotations

import queue
import time
from contextlib import ExitStack
from urllib.parse import quote

import httpx
import pytest
from diameter.message.avp.grouped import VendorSpecificApplicationId
from diameter.message.commands import ServerAssignmentRequest, SubscribeNotificationsRequest
from diameter.message.commands.user_data import UserIdentity
from diameter.message.constants import VENDOR_TGPP
from sigcore_process import HSS_HOST, REALM, Sigcore, worker_of

from interop.process import LoggedProcess
from interop.pydiameter_peer import APP_CX, APP_SH, PyDiameterPeer
from sigcore.hss.ims.codes import DataReference

pytestmark = [pytest.mark.interop, pytest.mark.slow]
IMPI = "alice@localdomain"
IMPU = "sip:alice@localdomain"
V1 = "/api/v1/ims"
REGISTRATION = 1
RTR, PPR, PNR = 304, 305, 309
SH_USER_DATA = (702, VENDOR_TGPP)


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
        pytest.fail(f"{peer.node.origin_host} got command {got.header.command_code}, meant for another peer")


def _start_two_workers(sigcore: Sigcore) -> LoggedProcess:
    added = sigcore.command("ims", "add", "--impi", IMPI, "--impu", IMPU, "--password", "secret")
    assert added.returncode == 0, added.stderr
    run = sigcore.start("--workers", "2", wait=False)
    for index in (0, 1):
        run.wait_for(rf"\[worker {index}\] sigcore \S+ \(\S+\) running", timeout=90)
    return run


def _connect(stack: ExitStack, run: LoggedProcess, port: int, name: str, app: int) -> tuple[int, PyDiameterPeer]:
    """A python-diameter peer connected to the workers' port; which worker holds its connection."""
    peer = PyDiameterPeer(name, REALM, app, remote_host=HSS_HOST, connect_port=port)
    # python-diameter 0.9 wants SIP-Auth-Data-Item in a PPR and User-Data in a PNR (TS 29.229/329 do not)
    peer.node.validate_received_request_avps = False
    stack.enter_context(peer)
    peer.wait_ready()
    deadline = time.monotonic() + 5
    while (worker := worker_of(run.log_text(), name)) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert worker is not None, run.log_tail()
    return worker, peer


def _one_on_each_worker(stack: ExitStack, run: LoggedProcess, port: int, prefix: str,
                        app: int) -> dict[int, tuple[str, PyDiameterPeer]]:
    where: dict[int, tuple[str, PyDiameterPeer]] = {}
    for n in range(1, 17):  # until each worker holds one peer's connection (the kernel hashes them)
        name = f"{prefix}{n}.localdomain"
        worker, peer = _connect(stack, run, port, name, app)
        where.setdefault(worker, (name, peer))
        if len(where) == 2:
            return where
    raise AssertionError(f"all {prefix} connections on one worker: {where}")


def test_ppr_and_rtr_reach_the_registering_scscf_on_either_worker(sigcore: Sigcore) -> None:
    token = sigcore.command("token", "create", "--role", "provision").stdout.strip().splitlines()[-1]
    run = _start_two_workers(sigcore)
    with ExitStack() as stack:
        where = _one_on_each_worker(stack, run, sigcore.diameter_port, "scscf", APP_CX)
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


def test_pnr_reaches_the_subscribed_as_on_the_other_worker(sigcore: Sigcore) -> None:
    run = _start_two_workers(sigcore)
    with ExitStack() as stack:
        scscf_worker, scscf = _connect(stack, run, sigcore.diameter_port, "scscf1.localdomain", APP_CX)
        ases = _one_on_each_worker(stack, run, sigcore.diameter_port, "as", APP_SH)
        far_name, far = ases[1 - scscf_worker]
        near = ases[scscf_worker][1]  # an AS of the same realm on the worker that will take the SAR
        snr = far.prepare(SubscribeNotificationsRequest(), destination_host=HSS_HOST)
        snr.vendor_specific_application_id = VendorSpecificApplicationId(vendor_id=VENDOR_TGPP,
                                                                         auth_application_id=APP_SH)
        snr.user_identity = UserIdentity(public_identity=IMPU)
        snr.subs_req_type = 0
        snr.data_reference = [DataReference.IMS_USER_STATE]
        assert far.request(snr).result_code == 2001

        assert _sar(scscf, "scscf1.localdomain") == 2001  # IMS user state changes: the far AS is told
        pnr = far.next_request(timeout=10)
        assert pnr.header.command_code == PNR and pnr.destination_host == far_name.encode()
        assert b"<IMSUserState>1</IMSUserState>" in pnr.find_avps(SH_USER_DATA)[0].value  # REGISTERED
        _nothing_more(near)
