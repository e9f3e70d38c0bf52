"""``sigcore key rotate``: re-seal every stored secret under a new KEK in one transaction.

Safe while HSS processes run on the same database:

* the transaction locks the key-check row (``FOR UPDATE``) and every ``auth_data`` row in subscriber id
  order, the order the AIR batch locks them in, so the two queue behind each other instead of deadlocking;
  it writes only the ``*_enc`` columns and the key check, never an SQN, so the AIR's compare-and-set on the
  SQN is not disturbed;
* the new key is in the key file *before* the commit: a running process that then reads a blob sealed
  under the new key id finds it there (`SecretBox`'s reload) and keeps the old key in memory for blobs it
  reads from before the commit; its decrypted-key cache is keyed by the blob, so no stale entry is used;
* provisioning writes check the key inside their transaction (`keycheck.sealing_box`), so none seals under
  the old key after the commit.

The old key file is kept beside the new one (``<file>.<UTC time>.old``) until the operator removes it; if
the transaction fails, the old key is put back.
"""

from __future__ import annotations

import datetime as dt
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import bindparam, select, update

from sigcore.store import tables as t
from sigcore.store.base import StoreBase
from sigcore.store.crypto import KEK_BYTES, SecretBox, key_id, replace_key_file
from sigcore.store.errors import KeyUnavailable
from sigcore.store.keycheck import record_key_id, stored_key_id, wrong_key

_A = t.auth_data.c
_SECRET_COLUMNS = ("ki", "opc", "op")
_RESEAL = (update(t.auth_data).where(_A.subscriber_id == bindparam("sid"))
           .values(ki_enc=bindparam("ki"), opc_enc=bindparam("opc"), op_enc=bindparam("op")))


@dataclass(frozen=True)
class Rotated:
    resealed: int  # subscribers whose secrets were re-sealed
    old_key_id: str
    new_key_id: str
    kept: Path  # the old key's copy


def rotate_key(store: StoreBase, key_file: Path, new_kek: bytes | None = None) -> Rotated:
    """Re-seal every secret of `store` (opened with the current key) under `new_kek` (default: a fresh one),
    which replaces the content of `key_file` (the file the current key was read from)."""
    old_box = store.box
    old_id = old_box.current_id
    new_kek = new_kek or secrets.token_bytes(KEK_BYTES)
    new_id = key_id(new_kek)
    if new_id == old_box.current_id:
        raise KeyUnavailable("the new key is the current key")
    kept = key_file.with_name(f"{key_file.name}.{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.old")
    shutil.copy2(key_file, kept)  # copy2 keeps the 0600 mode
    replace_key_file(key_file, new_kek)
    try:
        count = _reseal(store, old_box, SecretBox(new_kek))
    except BaseException:
        shutil.copy2(kept, key_file)
        raise
    old_box.add(new_kek)
    old_box.use(new_id)
    return Rotated(count, old_id.hex(), new_id.hex(), kept)


def _reseal(store: StoreBase, old: SecretBox, new: SecretBox) -> int:
    with store.writing() as conn:
        stored = stored_key_id(conn, lock=True, share=False)
        if stored is not None and stored != old.current_id:
            raise wrong_key(store.key_source, stored, old.current_id)
        rows = conn.execute(
            select(_A.subscriber_id, t.subscribers.c.imsi, _A.ki_enc, _A.opc_enc, _A.op_enc)
            .join(t.subscribers, t.subscribers.c.id == _A.subscriber_id)
            .order_by(_A.subscriber_id).with_for_update()
        ).all()
        resealed = []
        for row in rows:
            values: dict[str, object] = {"sid": row.subscriber_id}
            for column, blob in zip(_SECRET_COLUMNS, (row.ki_enc, row.opc_enc, row.op_enc), strict=True):
                values[column] = None if blob is None else new.seal(column, row.imsi, old.open(column, row.imsi, blob))
            resealed.append(values)
        for start in range(0, len(resealed), 1000):
            conn.execute(_RESEAL, resealed[start:start + 1000])
        record_key_id(conn, new.current_id, replace=stored is not None)
    return len(resealed)
