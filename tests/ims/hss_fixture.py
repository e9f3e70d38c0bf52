"""A sigcore HSS for IMS tests: SQLite store with a SIP Digest user and AKA users, a node serving Cx+Sh, and the
REST API wired to that node as `sigcore run` wires it."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from interop.ports import free_tcp_port
from sigcore.api import create_app
from sigcore.api.service import ApiServer
from sigcore.applications import Services
from sigcore.diameter.aio import Node, NodeSettings
from sigcore.diameter.answers import Identity
from sigcore.hss.cx.handlers import CxService
from sigcore.hss.sh.handlers import ShService
from sigcore.store import Store, migrate
from sigcore.store.ims import ImsStore
from sigcore.store.tokens import Role, TokenRepository

# TS 35.208 test set 1: K and OPc (the USIM model in tests/support/usim_model.py computes independently from them)
K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
HSS_HOST = "hss.localdomain"
REALM = "localdomain"
ALICE = ("alice@localdomain", ["sip:alice@localdomain", "tel:+15551234"], "alice-secret")
BOB_IMSI = "001010000000002"
BOB = ("bob@localdomain", ["sip:bob@localdomain", "tel:+15550002"])


@dataclass(frozen=True)
class OpUser:
    """An IMS user whose USIM holds K and OP (not OPc); the AMF is what the HSS puts in its AUTNs."""

    impi: str
    impus: list[str]
    imsi: str
    k: bytes
    op: bytes
    amf: bytes


# The user sipp registers with Digest-AKAv1-MD5. sipp 3.6.1 takes K, OP (not OPc) and AMF as the raw bytes of
# the [authentication] keyword's text (no hex form), so they are printable, 16, 16 and 2 characters long.
CAROL = OpUser("carol@localdomain", ["sip:carol@localdomain", "tel:+15550003"], "001010000000003",
               k=b"carol-usim-key-K", op=b"sigcore-ims-OP-1", amf=b"IM")


def make_store(directory: Path, scscf: str | None = None) -> Store:
    """``scscf``: the preferred S-CSCF offered in UAA Server-Capabilities (`sigcore ims add --scscf`)."""
    url = f"sqlite:///{directory / 'hss.sqlite'}"
    migrate(url)
    store = Store(url, secrets.token_bytes(32))
    store.add_subscriber(BOB_IMSI, ki=K, opc=OPC, msisdn="15550002")
    ims = ImsStore(store)
    ims.add_user(ALICE[0], ALICE[1], password=ALICE[2], scscf=scscf)
    ims.add_user(BOB[0], BOB[1], imsi=BOB_IMSI, scscf=scscf)
    return store


def add_op_user(store: Store, user: OpUser, scscf: str | None = None) -> None:
    """Provision `user` with K and OP (sigcore derives OPc), as `sigcore subscriber add --op` would."""
    store.add_subscriber(user.imsi, ki=user.k, op=user.op, amf=int.from_bytes(user.amf, "big"))
    ImsStore(store).add_user(user.impi, user.impus, imsi=user.imsi, scscf=scscf)


@dataclass
class Hss:
    node: Node
    cx: CxService
    sh: ShService
    store: Store
    port: int

    @property
    def ims(self) -> ImsStore:
        return self.cx.ims


def make_hss(store: Store, port: int | None = None) -> Hss:
    port = port or free_tcp_port()
    node = Node(NodeSettings(Identity(HSS_HOST, REALM), listen=[("127.0.0.1", port)]))
    cx, sh = CxService(store, node=node), ShService(store, node=node)
    cx.application().install(node)
    sh.application().install(node)
    cx.on_registration_change = sh.registration_changed
    return Hss(node, cx, sh, store, port)


@asynccontextmanager
async def provisioning_api(hss: Hss) -> AsyncIterator[httpx.AsyncClient]:
    """sigcore's REST API over real HTTP on a random loopback port, in this event loop, with `hss`'s store and
    Cx/Sh services as ``services`` (what the Cx and Sh installers hand the API in `sigcore run`), so
    an administrative deregistration sends its RTR from `hss`'s node. Yields a client with a provision token."""
    services = Services(node=hss.node, store=hss.store, cx=hss.cx, sh=hss.sh)
    server = ApiServer(create_app(hss.store, services), "127.0.0.1", 0)
    token = TokenRepository(hss.store).create(Role.PROVISION, "ims-interop-test").secret
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"{server.url}/api/v1", timeout=30,
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            yield client
    finally:
        await server.stop()
