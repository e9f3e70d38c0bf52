"""python-diameter 0.9.0 as an INDEPENDENT Diameter peer for interop tests.

A second implementation to talk to sigcore (and freeDiameterd): if sigcore and python-diameter agree on
the wire, it is not only because sigcore agrees with itself. Typical uses:

    # client: send an S6a AIR to a server on 127.0.0.1:port and wait for the AIA
    with PyDiameterPeer("mme.localdomain", "localdomain", APP_S6A, remote_host="hss.localdomain",
                        connect_port=port) as mme:
        mme.wait_ready()
        air = mme.prepare(AuthenticationInformationRequest())
        air.user_name = "001010000000001"
        air.visited_plmn_id = bytes.fromhex("00f110")
        aia = mme.request(air)            # python-diameter Message; aia.result_code etc.

    # server: accept a connection from a remote peer and answer what it sends (CLR/IDR/PNR from an HSS,
    # or requests relayed by freeDiameterd); default answer is DIAMETER_SUCCESS, or pass `answer=`
    with PyDiameterPeer("mme.localdomain", "localdomain", APP_S6A, remote_host="hss.localdomain",
                        listen_port=port) as mme:
        clr = mme.next_request(timeout=10)   # what the remote sent, after it was answered

Quirks of python-diameter 0.9.0 (also in docs/testing.md):
- It is thread based: `Node.start()` runs a select loop thread; requests are handled in one thread each.
- A peer must be known by `add_peer` before its CER arrives, or the CER is answered 3010 UNKNOWN_PEER;
  for listening we add the remote without an address (it then never connects out).
- CER/CEA advertise our applications as plain Auth-Application-Id (never Vendor-Specific-Application-Id)
  and the CER carries no Supported-Vendor-Id; its Vendor-Id is 99999 and Product-Name "python-diameter".
- A remote advertising only Relay (0xffffffff), like freeDiameterd, is accepted.
- Timers are checked every `wakeup_interval` seconds (default 6); we set 0.25 so stop() is quick.
- `Node.stop()` sends DPR (cause REBOOTING) to open peers, waits for the connections to close, polling once
  a second, then joins its threads one after another, each of which sleeps up to 2-3 s before it looks at
  its stop flag: 3-6 s per peer, minutes over the suite. `PyDiameterPeer.stop` does the same steps without
  the waits (it polls the DPR fast and leaves the sleeping threads to end by themselves).
"""

from __future__ import annotations

import logging
import queue
import socket
import struct
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from diameter.message import Message, constants
from diameter.node import Node
from diameter.node.application import Application, SimpleThreadingApplication
from diameter.node.peer import PEER_READY_STATES

from .ports import LOOPBACK

APP_S6A = constants.APP_3GPP_S6A_S6D  # 16777251
APP_CX = constants.APP_3GPP_CX  # 16777216
APP_SH = constants.APP_3GPP_SH  # 16777217

_Request = TypeVar("_Request", bound=Message)
AnswerFunction = Callable[[Application, Message], Message | None]


def answer_success(app: Application, request: Message) -> Message:
    """Answer any request with DIAMETER_SUCCESS (2001) and the mandatory Origin-*/Session-Id AVPs."""
    answer: Message = app.generate_answer(request, result_code=constants.E_RESULT_CODE_DIAMETER_SUCCESS)
    if hasattr(request, "auth_session_state"):
        answer.auth_session_state = request.auth_session_state
    return answer


class PyDiameterPeer:
    """One python-diameter Node with one application, talking to exactly one remote peer over TCP.

    Give `connect_port` to connect out to the remote (client role), or `listen_port` to wait for the
    remote to connect (server role). `remote_host` must be the remote's Origin-Host in both cases.
    """

    def __init__(
        self,
        origin_host: str,
        realm: str,
        application_id: int,
        *,
        remote_host: str,
        remote_realm: str | None = None,
        connect_port: int | None = None,
        listen_port: int | None = None,
        answer: AnswerFunction = answer_success,
        is_accounting: bool = False,
        watchdog_seconds: int = 30,
    ) -> None:
        if (connect_port is None) == (listen_port is None):
            raise ValueError("give exactly one of connect_port (client) or listen_port (server)")
        self.remote_host = remote_host
        self.remote_realm = remote_realm or realm
        self.requests: queue.Queue[Message] = queue.Queue()
        self._answer = answer
        self.node = Node(origin_host, realm, ip_addresses=[LOOPBACK] if listen_port else None, tcp_port=listen_port)
        self.node.wakeup_interval = 0.25  # seconds between its timer checks (select timeout)
        self.node.idle_timeout = watchdog_seconds
        self.peer = self.node.add_peer(
            f"aaa://{remote_host}:{connect_port or 3868};transport=tcp",
            self.remote_realm,
            ip_addresses=[LOOPBACK] if connect_port else None,
            is_persistent=connect_port is not None,
            is_default=True,
        )
        self.app = SimpleThreadingApplication(
            application_id,
            is_auth_application=not is_accounting,
            is_acct_application=is_accounting,
            request_handler=self._handle_request,
        )
        self.node.add_application(self.app, [self.peer])
        self._started = False

    def _handle_request(self, app: Application, request: Message) -> Message | None:
        try:
            return self._answer(app, request)
        finally:
            self.requests.put(request)

    def start(self) -> None:
        self.node.start()
        self._started = True

    def wait_ready(self, timeout: float = 15.0) -> None:
        """Wait until CER/CEA with the remote completed (raises ApplicationError on timeout)."""
        self.app.wait_for_ready(timeout)

    def prepare(self, request: _Request, destination_host: str | None = None) -> _Request:
        """Fill Session-Id, Origin-Host/Realm, Destination-Realm (and -Host if given) and, when the
        command has it, Auth-Session-State NO_STATE_MAINTAINED; the caller adds the rest."""
        message: Any = request
        message.session_id = self.node.session_generator.next_id()
        message.origin_host = self.node.origin_host.encode()
        message.origin_realm = self.node.realm_name.encode()
        message.destination_realm = self.remote_realm.encode()
        if destination_host:
            message.destination_host = destination_host.encode()
        if "auth_session_state" in _avp_names(message):
            message.auth_session_state = constants.E_AUTH_SESSION_STATE_NO_STATE_MAINTAINED
        return request

    def request(self, message: Message, timeout: float = 10.0) -> Message:
        """Send a request to the remote and return its answer (TimeoutError if none comes)."""
        answer: Message = self.app.send_request(message, timeout=timeout)
        return answer

    def next_request(self, timeout: float = 10.0) -> Message:
        """The next request the remote sent us (already answered by `answer`)."""
        return self.requests.get(timeout=timeout)

    def stop(self) -> None:
        """DPR to the remote if open and its connection closed (forced after 5 s), listening sockets closed,
        the connection thread ended. Idempotent. What `Node.stop` does, without its sleeps (module notes)."""
        if not self._started:
            return
        self._started = False
        node: Any = self.node  # its threads are private attributes of python-diameter 0.9.0 (pinned)
        node._stopping = True
        for conn in list(node.connections.values()):
            if conn.state in PEER_READY_STATES:
                node.send_dpr(conn)
        deadline = time.monotonic() + 5
        while node.connections and time.monotonic() < deadline:
            time.sleep(0.01)
        app: Any = self.app
        for thread in (node._stat_collect_thread, app._resp_queue_consumer, app._recv_queue_consumer):
            thread.stop()  # each ends at its next wake-up (<= 3 s); nothing needs to wait for that
        node._connection_thread.stop()  # it closes what the DPR did not
        node._connection_thread.join(5)
        for listening in node.tcp_sockets:
            listening.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            listening.close()
        Application.stop(self.app)  # wakes callers still waiting for an answer

    def __enter__(self) -> PyDiameterPeer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def _avp_names(message: Message) -> set[str]:
    return {definition.attr_name for definition in getattr(message, "avp_def", ())}


def quiet_python_diameter_logs(level: int = logging.WARNING) -> None:
    """python-diameter logs every DWR at INFO; keep test output readable."""
    for name in ("diameter.node", "diameter.connection", "diameter.stats", "diameter.peer", "diameter.application"):
        logging.getLogger(name).setLevel(level)
