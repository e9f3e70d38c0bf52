"""A sigcore HSS for IMS tests: SQLite store with a SIP Digest user and an AKA user, and a node serving Cx+Sh."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from interop.ports import free_tcp_port
from sigcore.diameter.aio import Node, NodeSettings
from sigcore.diameter.answers import Identity
from sigcore.hss.cx import CxService
from sigcore.hss.sh import ShService
from sigcore.store import Store, migrate
from sigcore.store.ims import ImsStore

# TS 35.208 test set 1: K and OPc (the USIM model in tests/usim_model.py computes independently from them)
K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
HSS_HOST = "hss.localdomain"
REALM = "localdomain"
ALICE = ("alice@localdomain", ["sip:alice@localdomain", "tel:+15551234"], "alice-secret")
BOB_IMSI = "001010000000002"
BOB = ("bob@localdomain", ["sip:bob@localdomain", "tel:+15550002"])


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
    cx, sh = CxService(store), ShService(store)
    cx.install(node)
    sh.install(node)
    cx.on_registration_change = sh.registration_changed
    return Hss(node, cx, sh, store, port)
