"""A sigcore node serving SLh and S13 on a real TCP port, and python-diameter GMLC/MME clients.

`LcsNode` runs the node in its own event-loop thread so the tests can drive python-diameter's blocking
clients directly. The clients build their requests with python-diameter's own classes and AVP
dictionary (not sigcore's): S13 has a message class there (`MeIdentityCheckRequest`); SLh's
LCS-Routing-Info is an "undefined" command in python-diameter 0.9.0, so the RIR is assembled from
python-diameter AVPs by hand and the RIA is read back through its generic AVP decoding.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from diameter.message import Avp as PyAvp
from diameter.message import Message as PyMessage
from diameter.message import constants as pc
from diameter.message.avp.grouped import TerminalInformation
from diameter.message.commands import LCSRoutingInfo
from diameter.message.commands.me_identity_check import MeIdentityCheckRequest

from interop.ports import free_tcp_port
from interop.pydiameter_peer import PyDiameterPeer
from sigcore.diameter.aio import Node, NodeSettings
from sigcore.diameter.answers import Identity
from sigcore.diameter.peer import PeerPolicy
from sigcore.hss.s13.eir import Eir
from sigcore.hss.s13.handlers import S13Server
from sigcore.hss.slh.handlers import GmlcPolicy, SlhServer
from sigcore.store import Store, migrate
from sigcore.store.eir import EirRepository, EquipmentStatus

T = TypeVar("T")
HSS_HOST = "hss.localdomain"
REALM = "localdomain"
APP_SLH = pc.APP_3GPP_SLH
APP_S13 = pc.APP_3GPP_S13_S13
RIR_CODE = pc.CMD_3GPP_LCS_ROUTING_INFO
VENDOR_3GPP = pc.VENDOR_TGPP
# 3GPP AVP codes of TS 29.173, looked up by number so the client does not depend on sigcore's dictionary
AVP_MSISDN, AVP_SERVING_NODE, AVP_ADDITIONAL_SERVING_NODE = 701, 2401, 2406
AVP_MME_NAME, AVP_MME_REALM, AVP_SGSN_NAME, AVP_SGSN_REALM = 2402, 2408, 2409, 2410
AVP_LCS_CAPABILITIES_SETS = 2404


def new_store(tmp: Path) -> Store:
    url = f"sqlite:///{tmp / 'lcs.sqlite'}"
    migrate(url)
    return Store(url, os.urandom(32))


class LcsNode:
    """A sigcore node on 127.0.0.1:`port` with SLh and S13 attached, in a background event loop."""

    def __init__(self, store: Store, *, allowed_gmlcs: tuple[str, ...] = (),
                 unknown_equipment: EquipmentStatus | None = None) -> None:
        self.port = free_tcp_port()
        self.loop = asyncio.new_event_loop()
        self.node = Node(NodeSettings(Identity(HSS_HOST, REALM), listen=[("127.0.0.1", self.port)],
                                      policy=PeerPolicy(tw=30.0)))
        self.slh = SlhServer(store, self.node.identity, GmlcPolicy.of(REALM, allowed_gmlcs))
        self.s13 = S13Server(Eir(EirRepository(store), unknown_equipment), self.node.identity)
        self.slh.application().install(self.node)
        self.s13.application().install(self.node)
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        fut: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout)

    def __enter__(self) -> LcsNode:
        self._thread.start()
        self.run(self.node.start())
        return self

    def __exit__(self, *_exc: object) -> None:
        try:
            self.run(self.node.stop(wait=2.0))
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()


def client(origin_host: str, app_id: int, port: int, realm: str = REALM) -> PyDiameterPeer:
    """A python-diameter GMLC (app SLh) or MME (app S13) of `realm` connecting to the node on `port`."""
    return PyDiameterPeer(origin_host, realm, app_id, remote_host=HSS_HOST, remote_realm=REALM, connect_port=port)


def rir(gmlc: PyDiameterPeer, *, imsi: str | None = None, msisdn: bytes | None = None) -> PyMessage:
    """Send an LCS-Routing-Info-Request built from python-diameter AVPs; returns the RIA."""
    req = LCSRoutingInfo()
    req.header.is_request = True
    req.header.is_proxyable = True
    req.header.application_id = APP_SLH
    node = gmlc.node
    avps = [
        PyAvp.new(pc.AVP_SESSION_ID, value=node.session_generator.next_id()),
        PyAvp.new(pc.AVP_VENDOR_SPECIFIC_APPLICATION_ID, value=[
            PyAvp.new(pc.AVP_VENDOR_ID, value=VENDOR_3GPP), PyAvp.new(pc.AVP_AUTH_APPLICATION_ID, value=APP_SLH)]),
        PyAvp.new(pc.AVP_AUTH_SESSION_STATE, value=pc.E_AUTH_SESSION_STATE_NO_STATE_MAINTAINED),
        PyAvp.new(pc.AVP_ORIGIN_HOST, value=node.origin_host.encode()),
        PyAvp.new(pc.AVP_ORIGIN_REALM, value=node.realm_name.encode()),
        PyAvp.new(pc.AVP_DESTINATION_REALM, value=gmlc.remote_realm.encode()),
    ]
    if imsi is not None:
        avps.append(PyAvp.new(pc.AVP_USER_NAME, value=imsi))
    if msisdn is not None:
        avps.append(PyAvp.new(AVP_MSISDN, VENDOR_3GPP, value=msisdn))
    for avp in avps:
        req.append_avp(avp)
    # python-diameter routes on this attribute; an undefined command does not derive it from the AVPs
    req.destination_realm = gmlc.remote_realm.encode()  # type: ignore[attr-defined]
    return gmlc.request(req)


def ecr(mme: PyDiameterPeer, imei: str, *, software_version: str | None = "01",
        imsi: str | None = None) -> PyMessage:
    """Send a ME-Identity-Check-Request with python-diameter's own message class; returns the ECA."""
    req = mme.prepare(MeIdentityCheckRequest())
    req.terminal_information = TerminalInformation(imei=imei, software_version=software_version)
    if imsi is not None:
        req.user_name = imsi
    return mme.request(req)


def experimental_result(answer: PyMessage) -> int | None:
    found = answer.find_avps((pc.AVP_EXPERIMENTAL_RESULT, 0), (pc.AVP_EXPERIMENTAL_RESULT_CODE, 0))
    return int(found[0].value) if found else None


def result_code(answer: PyMessage) -> int | None:
    found = answer.find_avps((pc.AVP_RESULT_CODE, 0))
    return int(found[0].value) if found else None


def avp_values(answer: PyMessage, *path: tuple[int, int]) -> list[Any]:
    return [avp.value for avp in answer.find_avps(*path)]
