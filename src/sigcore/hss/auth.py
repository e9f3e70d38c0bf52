"""Authentication vectors for S6a/S6d: reserve SQNs atomically, then compute vectors on them.

`AuthService.vectors(request)` is the whole AIR minus Diameter. For each request, inside the batch
transaction of `sigcore.store.batch.BatchWorker`, on the store's SQN reservation (`sigcore.store.auc`):

1. the subscriber's auth row is read with a lock (`lock_auth_rows`: ``SELECT ... FOR UPDATE``; ``BEGIN
   IMMEDIATE`` on SQLite), together with the encrypted keys, so one round trip serves keys and SQN;
2. with Re-Synchronization-Info (RAND‖AUTS) the AUTS is checked first (MAC-S, `auc.resync`): a forged one
   fails that request with `AutsMacError` and changes nothing;
3. the next SQNs come from TS 33.102 Annex C arithmetic (`auc.next_sqns`, IND cycling), and the last one
   is written with compare-and-set (`store_sqns`: ``WHERE sqn = :old``);
4. the transaction commits; only then are vectors computed on the reserved SQNs and handed back.

So a vector is never built on an SQN that is not stored: if the process dies before the commit nothing
was reserved and nothing was sent; after it, the SQNs are stored and at worst wasted (the USIM accepts the
gap). Two AIRs for one IMSI in the same batch are chained in memory and write once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection

from sigcore.hss import auc
from sigcore.store import NotFound, Store
from sigcore.store.auc import lock_auth_rows, store_sqns
from sigcore.store.base import utc_now
from sigcore.store.batch import BatchKind, BatchWorker


@dataclass(frozen=True, slots=True)
class VectorRequest:
    imsi: str
    plmn: bytes  # Visited-PLMN-Id, for KASME
    eutran: int = 0  # number of E-UTRAN vectors
    utran: int = 0  # number of UTRAN quintuplets
    resync: bytes | None = None  # Re-Synchronization-Info: RAND (16) ‖ AUTS (14)


@dataclass(frozen=True, slots=True)
class Vectors:
    eutran: list[auc.EutranVector] = field(default_factory=list)
    utran: list[auc.UtranVector] = field(default_factory=list)
    resynchronised: bool = False


# _Keys and _Reserved are made once per AIR inside its transaction: not frozen, because a frozen
# dataclass's __init__ goes through object.__setattr__ per field (docs/performance.md).
@dataclass(slots=True)
class _Keys:
    k: bytes = field(repr=False)
    opc: bytes = field(repr=False)
    amf: bytes
    milenage: auc.Milenage = field(repr=False)


@dataclass(slots=True)
class _Reserved:
    keys: _Keys
    sqns: list[int]
    resynchronised: bool


_CachedKeys = tuple[bytes, bytes, auc.Milenage]


class KeyCache:
    """Decrypted K/OPc by the ciphertext they came from: a re-keyed subscriber has new blobs, so a stale
    entry can never be used, and the AES-GCM opening and OPc derivation are done once per key. With them,
    the subscriber's `auc.Milenage` (its AES key schedule): building a cipher costs as much as a vector.

    A Milenage object holds one cipher context, which must not be used by two threads at once: a cache
    belongs to one `SqnReservation`, whose `run` and `after` run on its batch worker's one thread."""

    def __init__(self, store: Store, size: int = 100_000) -> None:
        self.store = store
        self.size = size
        self._entries: OrderedDict[tuple[str, bytes, bytes | None, bytes | None], _CachedKeys] = OrderedDict()

    def keys(self, imsi: str, ki_enc: bytes, opc_enc: bytes | None, op_enc: bytes | None) -> tuple[bytes, bytes]:
        k, opc, _ = self.milenage(imsi, ki_enc, opc_enc, op_enc)
        return k, opc

    def milenage(self, imsi: str, ki_enc: bytes, opc_enc: bytes | None, op_enc: bytes | None) -> _CachedKeys:
        """(K, OPc, Milenage for them)."""
        key = (imsi, bytes(ki_enc), bytes(opc_enc) if opc_enc else None, bytes(op_enc) if op_enc else None)
        found = self._entries.get(key)
        if found is None:
            box = self.store.box
            k = box.open("ki", imsi, key[1])
            if key[2] is not None:
                opc = box.open("opc", imsi, key[2])
            elif key[3] is not None:
                opc = auc.derive_opc(k, box.open("op", imsi, key[3]))
            else:
                raise auc.AucError("neither OPc nor OP is provisioned")
            found = self._entries[key] = (k, opc, auc.Milenage(k, opc))
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return found


class SqnReservation(BatchKind[VectorRequest, _Reserved]):
    """The locked read, resync, Annex C advance and compare-and-set write of a batch of AIRs."""

    name = "air"

    def __init__(self, keys: KeyCache, ind_bits: int) -> None:
        self.key_cache = keys
        self.ind_bits = ind_bits

    def run(self, conn: Connection, items: Sequence[VectorRequest]) -> list[_Reserved | Exception]:
        imsis = [items[0].imsi] if len(items) == 1 else sorted({i.imsi for i in items})
        rows = lock_auth_rows(conn, imsis)
        current = {imsi: row.sqn for imsi, row in rows.items()}
        out: list[_Reserved | Exception] = []
        for item in items:
            row = rows.get(item.imsi)
            if row is None or not row.enabled:
                out.append(NotFound(f"no enabled subscriber with IMSI {item.imsi}"))
                continue
            try:
                k, opc, milenage = self.key_cache.milenage(row.imsi, row.ki_enc, row.opc_enc, row.op_enc)
                base, resynced = current[item.imsi], False
                if item.resync is not None:
                    rand, auts = item.resync[:16], item.resync[16:]
                    base = auc.resync(k, opc, rand, auts, base, self.ind_bits)
                    resynced = True
                sqns = auc.next_sqns(base, item.eutran + item.utran, self.ind_bits)
            except Exception as err:  # AutsMacError, SqnExhaustedError, KeyUnavailable: this item only
                out.append(err)
                continue
            if sqns:
                current[item.imsi] = sqns[-1]
            elif resynced:
                current[item.imsi] = base
            out.append(_Reserved(_Keys(k, opc, row.amf.to_bytes(2, "big"), milenage), sqns, resynced))
        now = utc_now()
        changed = [{"sid": rows[imsi].id, "old": rows[imsi].sqn, "new": sqn, "now": now}
                   for imsi, sqn in current.items() if sqn != rows[imsi].sqn]
        if changed:
            store_sqns(conn, changed)
        return out

    def after(self, items: Sequence[VectorRequest], results: list[_Reserved | Exception]) -> list[object]:
        """After the commit: vectors on the stored SQNs."""
        return [r if isinstance(r, Exception) else _vectors(item, r) for item, r in zip(items, results, strict=True)]


def _vectors(item: VectorRequest, r: _Reserved) -> Vectors:
    milenage, amf = r.keys.milenage, r.keys.amf
    eutran = auc.eutran_vectors_of(milenage, amf, r.sqns[: item.eutran], item.plmn) if item.eutran else []
    utran = auc.utran_vectors_of(milenage, amf, r.sqns[item.eutran:]) if item.utran else []
    return Vectors(eutran, utran, r.resynchronised)


class AuthService:
    """The AUC of the running HSS: `await vectors(VectorRequest(...))` → `Vectors`, or raises
    `NotFound`, `auc.AutsMacError`, `auc.AucError`, `KeyUnavailable` or a database error."""

    def __init__(self, store: Store, worker: BatchWorker, ind_bits: int = auc.DEFAULT_IND_BITS) -> None:
        self.store = store
        self.worker = worker
        self.kind = SqnReservation(KeyCache(store), ind_bits)

    async def vectors(self, request: VectorRequest) -> Vectors:
        result: Vectors = await self.worker.submit(self.kind, request)  # type: ignore[arg-type]
        return result
