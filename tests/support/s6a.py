"""An HSS on a real TCP port, and python-diameter MMEs to talk to it, for the S6a tests.

`HssThread` runs a sigcore Node with the S6a HSS (`sigcore.hss.s6a.install.build_hss`) in its own event loop
thread, so the tests can drive python-diameter's blocking clients directly. `run(coro)` executes a
coroutine on the HSS's loop (e.g. the notifier's IDR). The MMEs are python-diameter peers (not sigcore
code): `air`, `ulr`, `pur` build the requests with python-diameter's own message classes.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from diameter.message import Message as PyMessage
from diameter.message.avp import Avp
from diameter.message.avp.grouped import RequestedEutranAuthenticationInfo, RequestedUtranGeranAuthenticationInfo
from diameter.message.commands import (
    AuthenticationInformationRequest,
    NotifyRequest,
    PurgeUeRequest,
    UpdateLocationRequest,
)
from diameter.message.constants import VENDOR_TGPP as VENDOR_3GPP

from interop.ports import free_tcp_port
from interop.pydiameter_peer import APP_S6A, AnswerFunction, PyDiameterPeer, answer_success
from sigcore.config import parse_config
from sigcore.diameter.aio import Node, NodeSettings
from sigcore.diameter.answers import Identity
from sigcore.diameter.peer import PeerPolicy
from sigcore.hss.s6a.install import Hss, build_hss
from sigcore.store import Store, migrate
from sigcore.toolkit import plmn

T = TypeVar("T")
HSS_HOST = "hss.localdomain"
REALM = "localdomain"
IMSI = "001010000000001"
K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
HOME_PLMN = plmn.encode("001", "01")
EUTRAN = 1004
RAT_TYPE = 1032
PUR_FLAGS = 1635
ULR_S6A_INITIAL = 0b100010  # S6a/S6d-Indicator | Initial-Attach-Indicator


def sqlite_url(tmp: Path) -> str:
    return f"sqlite:///{tmp / 'hss.sqlite'}"


def provision(url: str, kek: bytes, imsi: str = IMSI, **profile: Any) -> Store:
    migrate(url)
    store = Store(url, kek)
    profile.setdefault("apns", ["internet"])
    store.add_subscriber(imsi, ki=K, opc=OPC, **profile)
    return store


class HssThread:
    """A sigcore HSS node on 127.0.0.1:`port` in a background event loop."""

    def __init__(self, store: Store, hss_config: dict[str, Any] | None = None) -> None:
        self.store = store
        self.port = free_tcp_port()
        self.cfg = parse_config({"hss": hss_config or {}})
        self.loop = asyncio.new_event_loop()
        self.node = Node(NodeSettings(Identity(HSS_HOST, REALM), listen=[("127.0.0.1", self.port)],
                                      policy=PeerPolicy(tw=30.0)))
        self.hss: Hss = build_hss(self.node, store, self.cfg)
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> HssThread:
        self._thread.start()
        self.run(self._start())
        return self

    async def _start(self) -> None:
        await self.node.start()
        await self.hss.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        fut: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout)

    def stop(self) -> None:
        async def _stop() -> None:
            await self.hss.stop()
            await self.node.stop(wait=2.0)

        try:
            self.run(_stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()

    def __enter__(self) -> HssThread:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def mme(name: str, port: int, answer: AnswerFunction = answer_success) -> PyDiameterPeer:
    """A python-diameter MME connecting to the HSS on `port` (start it with `with`, then `wait_ready()`)."""
    return PyDiameterPeer(name, REALM, APP_S6A, remote_host=HSS_HOST, connect_port=port, answer=answer)


def air(peer: PyDiameterPeer, imsi: str = IMSI, vectors: int = 1, resync: bytes | None = None,
        utran: int = 0, plmn_id: bytes = HOME_PLMN) -> PyMessage:
    req = peer.prepare(AuthenticationInformationRequest())
    req.user_name = imsi
    req.visited_plmn_id = plmn_id
    info = RequestedEutranAuthenticationInfo(number_of_requested_vectors=vectors, immediate_response_preferred=0)
    if resync is not None:
        info.re_synchronization_info = resync
    req.requested_eutran_authentication_info = info
    if utran:
        req.requested_utran_geran_authentication_info = RequestedUtranGeranAuthenticationInfo(
            number_of_requested_vectors=utran, immediate_response_preferred=0)
    return peer.request(req)


def ulr(peer: PyDiameterPeer, imsi: str = IMSI, flags: int = ULR_S6A_INITIAL, rat: int = EUTRAN,
        plmn_id: bytes = HOME_PLMN) -> PyMessage:
    req = peer.prepare(UpdateLocationRequest())
    req.user_name = imsi
    req.ulr_flags = flags
    req.visited_plmn_id = plmn_id
    _append_without_m_bit(req, RAT_TYPE, rat)
    return peer.request(req)


def _append_without_m_bit(message: PyMessage, code: int, value: int) -> None:
    """python-diameter 0.9.0 sets M on RAT-Type and PUR-Flags, where TS 29.212 §5.3.1 and TS 29.272 §7.3.1
    say it must not be set; sigcore's dictionary answers that 3009 DIAMETER_INVALID_AVP_BITS. Send these
    AVPs as the spec (and freeDiameter-based MMEs) do."""
    message.append_avp(Avp.new(code, VENDOR_3GPP, value, is_mandatory=False))


def pur(peer: PyDiameterPeer, imsi: str = IMSI, flags: int = 1) -> PyMessage:
    req = peer.prepare(PurgeUeRequest())
    req.user_name = imsi
    _append_without_m_bit(req, PUR_FLAGS, flags)
    return peer.request(req)


def nor(peer: PyDiameterPeer, imsi: str = IMSI) -> PyMessage:
    req = peer.prepare(NotifyRequest())
    req.user_name = imsi
    req.nor_flags = 0
    return peer.request(req)


def experimental(answer: PyMessage) -> int | None:
    er = getattr(answer, "experimental_result", None)
    return er.experimental_result_code if er is not None else None


def new_kek() -> bytes:
    return os.urandom(32)
