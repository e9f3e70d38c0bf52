"""The AUC's data: decrypted keys for the API, and SQN reservation that never hands out a value twice.

SQNs are reserved by one path, batched: the HSS's AIR and MAR batches (`sigcore.hss.auth.SqnReservation`,
run by `sigcore.store.batch.BatchWorker`) and `reserve_sqns` (one IMSI, one transaction) both run

1. `lock_auth_rows`: one locked read of the auth rows, keys included, of every IMSI in the transaction
   (``SELECT ... FOR UPDATE`` on PostgreSQL, MariaDB and MSSQL; on SQLite the transaction starts with
   ``BEGIN IMMEDIATE``, which takes the database write lock before the read);
2. the caller computes the new SQNs (TS 33.102 Annex C arithmetic lives with the AUC, not here);
3. `store_sqns`: ``UPDATE auth_data SET sqn = :new WHERE subscriber_id = :sid AND sqn = :old`` for every
   changed row (compare-and-set). Under the lock each matches one row; if some backend or isolation level
   let a concurrent writer in, `Retry` is raised and the whole transaction is rolled back and rerun;
4. the transaction commits *before* the values are handed out. If the commit fails, or the process dies
   first, nobody sees the values: no vector is ever built on an SQN that is not stored.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from sigcore.store import tables as t
from sigcore.store import validate as v
from sigcore.store.base import SUBSCRIBER_ID_SUBQUERY, utc_now
from sigcore.store.errors import InvalidValue, NotFound, SqnContention
from sigcore.store.raw import RawStatement, Retry, check_all_updated
from sigcore.store.records import AuthAlgorithm, AuthMaterial
from sigcore.store.subscribers import SubscriberRepository

_A = t.auth_data.c
_AUTH_BY_IMSI = (
    select(t.subscribers.c.id, t.subscribers.c.imsi, _A.ki_enc, _A.opc_enc, _A.op_enc, _A.amf, _A.sqn, _A.algorithm)
    .join(t.auth_data, _A.subscriber_id == t.subscribers.c.id)
    .where(t.subscribers.c.imsi == bindparam("imsi"))
)
_S = t.subscribers.c
_AUTH_FOR_UPDATE = RawStatement(
    select(_S.id, _S.imsi, _S.enabled, _A.sqn, _A.ki_enc, _A.opc_enc, _A.op_enc, _A.amf)
    .join(t.auth_data, _A.subscriber_id == _S.id)
    .where(_S.imsi.in_(bindparam("imsis", expanding=True)))
    .order_by(_S.id)
    .with_for_update()
)
_SQN_CAS = RawStatement(
    update(t.auth_data)
    .where(_A.subscriber_id == bindparam("sid"), _A.sqn == bindparam("old"))
    .values(sqn=bindparam("new"), updated_at=bindparam("now"))
)
_SET_SQN = (
    update(t.auth_data)
    .where(_A.subscriber_id == SUBSCRIBER_ID_SUBQUERY)
    .values(sqn=bindparam("new"), updated_at=bindparam("now"))
)
MAX_SQN_ATTEMPTS = 50


def lock_auth_rows(conn: Connection, imsis: list[str]) -> dict[str, Any]:
    """The auth rows of `imsis` by IMSI, locked until `conn`'s transaction ends: ``id``, ``imsi``,
    ``enabled``, ``sqn``, the sealed keys (``ki_enc``, ``opc_enc``, ``op_enc``) and ``amf``. Absent IMSIs
    are missing from the result. Rows are locked in id order, so two transactions never deadlock."""
    return {r.imsi: r for r in _AUTH_FOR_UPDATE.rows(conn, {"imsis": imsis})}


def store_sqns(conn: Connection, changes: list[dict[str, Any]]) -> None:
    """Compare-and-set the SQNs read by `lock_auth_rows`: each change is ``{"sid": row.id, "old": row.sqn,
    "new": sqn, "now": utc_now()}``; `Retry` unless every row still held its ``old`` value."""
    check_all_updated(conn, _SQN_CAS, changes)


def _checked_sqns(old: int, values: list[int], count: int) -> list[int]:
    if len(values) != count:
        raise InvalidValue(f"advance() returned {len(values)} SQNs, {count} were asked for")
    previous = old
    for value in values:
        if not previous < value <= v.SQN_MAX:
            raise InvalidValue("advance() must return strictly increasing 48-bit SQNs above the stored one")
        previous = value
    return values


class AucRepository(SubscriberRepository):
    def get_auth_material(self, imsi: str) -> AuthMaterial:
        """Keys (decrypted), AMF, current SQN and algorithm of `imsi`: for the AUC only, never to be logged."""
        with self.reading() as conn:
            row = conn.execute(_AUTH_BY_IMSI, {"imsi": imsi}).first()
        if row is None:
            raise NotFound(f"no subscriber with IMSI {imsi}")
        box = self.box
        return AuthMaterial(
            subscriber_id=row.id,
            imsi=row.imsi,
            ki=box.open("ki", row.imsi, row.ki_enc),
            opc=box.open("opc", row.imsi, row.opc_enc) if row.opc_enc is not None else None,
            op=box.open("op", row.imsi, row.op_enc) if row.op_enc is not None else None,
            amf=row.amf,
            sqn=row.sqn,
            algorithm=AuthAlgorithm(row.algorithm),
        )

    def reserve_sqns(self, imsi: str, count: int, advance: Callable[[int], list[int]]) -> list[int]:
        """Atomically move the stored SQN on by `count` values and return them: the batched path (module
        docstring) for one IMSI, in a transaction of its own.

        `advance(stored_sqn)` returns the `count` new SQNs, strictly increasing and above the stored one
        (TS 33.102 Annex C SEQ/IND arithmetic lives with the caller). It may run more than once, so it must
        be a pure function of its argument. The last value becomes the stored SQN.
        """
        v.int_range("count", count, 1, 1024)
        for attempt in range(MAX_SQN_ATTEMPTS):
            try:
                with self.writing() as conn:
                    row = lock_auth_rows(conn, [imsi]).get(imsi)
                    if row is None:
                        raise NotFound(f"no subscriber with IMSI {imsi}")
                    values = _checked_sqns(row.sqn, list(advance(row.sqn)), count)
                    store_sqns(conn, [{"sid": row.id, "old": row.sqn, "new": values[-1], "now": utc_now()}])
                return values  # `writing` has committed: the caller never sees uncommitted SQNs
            except Retry:
                time.sleep(random.uniform(0, 0.001 * (attempt + 1)))
        raise SqnContention(f"SQN of {imsi}: compare-and-set lost {MAX_SQN_ATTEMPTS} times")

    def set_sqn(self, imsi: str, sqn: int) -> None:
        """Store `sqn` as the last SQN handed out (resynchronisation after a verified AUTS, or a reset)."""
        with self.writing() as conn:
            if conn.execute(_SET_SQN, {"imsi": imsi, "new": v.sqn(sqn), "now": utc_now()}).rowcount != 1:
                raise NotFound(f"no subscriber with IMSI {imsi}")

    def set_auth(
        self,
        imsi: str,
        *,
        ki: bytes | str | None = None,
        opc: bytes | str | None = None,
        op: bytes | str | None = None,
        amf: int | None = None,
        algorithm: str | None = None,
    ) -> None:
        """Rotate keys or change AMF/algorithm. Giving `opc` clears a stored OP and vice versa."""
        if opc is not None and op is not None:
            raise InvalidValue("opc: give at most one of opc and op")
        values: dict[str, Any] = dict(self._sealed_keys(imsi, ki=ki, opc=opc, op=op))
        if amf is not None:
            values["amf"] = v.amf(amf)
        if algorithm is not None:
            values["algorithm"] = v.choice("algorithm", AuthAlgorithm, algorithm).value
        if not values:
            return
        values["updated_at"] = utc_now()
        with self.writing() as conn:
            sid = self.subscriber_id(conn, imsi)
            conn.execute(update(t.auth_data).where(_A.subscriber_id == sid), values)
