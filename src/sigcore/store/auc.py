"""The AUC's data: decrypted keys for one AIR, and SQN reservation that never hands out a value twice.

Atomicity of `reserve_sqns`, on every backend and across processes and hosts:

1. One transaction reads the stored SQN with a row lock (``SELECT ... FOR UPDATE`` on PostgreSQL, MariaDB
   and MSSQL; on SQLite the transaction starts with ``BEGIN IMMEDIATE``, which takes the database write
   lock before the read).
2. ``advance(old)`` computes the new SQNs; they must be strictly increasing and above `old`.
3. ``UPDATE auth_data SET sqn = :new WHERE subscriber_id = :id AND sqn = :old`` must report one row
   (compare-and-set). Under the lock it always does; if some backend or isolation level let a concurrent
   writer in, the row count is 0 and the whole reservation is retried from step 1.
4. The transaction commits *before* the values are returned. If the commit fails, or the process dies
   first, the caller never sees the values: no vector is ever built on an SQN that is not stored.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, select, update

from sigcore.store import tables as t
from sigcore.store import validate as v
from sigcore.store.base import SUBSCRIBER_ID_SUBQUERY, utc_now
from sigcore.store.errors import InvalidValue, NotFound, SqnContention
from sigcore.store.records import AuthAlgorithm, AuthMaterial
from sigcore.store.subscribers import SubscriberRepository

_A = t.auth_data.c
_AUTH_BY_IMSI = (
    select(t.subscribers.c.id, t.subscribers.c.imsi, _A.ki_enc, _A.opc_enc, _A.op_enc, _A.amf, _A.sqn, _A.algorithm)
    .join(t.auth_data, _A.subscriber_id == t.subscribers.c.id)
    .where(t.subscribers.c.imsi == bindparam("imsi"))
)
_SQN_FOR_UPDATE = (
    select(_A.subscriber_id, _A.sqn).where(_A.subscriber_id == SUBSCRIBER_ID_SUBQUERY).with_for_update()
)
_SQN_COMPARE_AND_SET = (
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
        """Atomically move the stored SQN on by `count` values and return them (see the module docstring).

        `advance(stored_sqn)` returns the `count` new SQNs, strictly increasing and above the stored one
        (TS 33.102 Annex C SEQ/IND arithmetic lives with the caller). It may run more than once, so it must
        be a pure function of its argument. The last value becomes the stored SQN.
        """
        v.int_range("count", count, 1, 1024)
        for attempt in range(MAX_SQN_ATTEMPTS):
            with self.writing() as conn:
                row = conn.execute(_SQN_FOR_UPDATE, {"imsi": imsi}).first()
                if row is None:
                    raise NotFound(f"no subscriber with IMSI {imsi}")
                values = _checked_sqns(row.sqn, list(advance(row.sqn)), count)
                params = {"sid": row.subscriber_id, "old": row.sqn, "new": values[-1], "now": utc_now()}
                if conn.execute(_SQN_COMPARE_AND_SET, params).rowcount == 1:
                    return values  # `writing` commits on the way out, before the caller sees them
                conn.rollback()
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
        key_values = self._key_values(ki=ki, opc=opc, op=op)
        values: dict[str, Any] = {}
        if amf is not None:
            values["amf"] = v.amf(amf)
        if algorithm is not None:
            values["algorithm"] = v.choice("algorithm", AuthAlgorithm, algorithm).value
        if not values and not key_values:
            return
        values["updated_at"] = utc_now()
        with self.writing() as conn:
            sid = self.subscriber_id(conn, imsi)
            values.update(self._sealed(conn, imsi, key_values))
            conn.execute(update(t.auth_data).where(_A.subscriber_id == sid), values)
