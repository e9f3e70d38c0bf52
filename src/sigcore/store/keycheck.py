"""The key-check value stored with the data: which KEK the stored secrets are sealed under.

A store with a key checks it on opening (`verify_key`) and again inside every transaction that seals a
secret (`sealing_box`), so a wrong key file is refused before anything is written under it, and a
provisioning write that races `sigcore key rotate` waits for it (``FOR SHARE`` against the rotation's
``FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE`` serialises them anyway) and then seals under the new key.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

from sqlalchemy import Connection, DateTime, Integer, String, Table, insert, select, update
from sqlalchemy.orm import Mapped, mapped_column

from sigcore.store import tables as t
from sigcore.store.crypto import SecretBox
from sigcore.store.errors import KeyUnavailable
from sigcore.store.models import Base

_ROW_ID = 1


class KeyCheckRow(Base):
    """One row: the key id (`crypto.key_id`, hex) of the KEK every stored secret is sealed under."""

    __tablename__ = "key_check"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


key_check = cast(Table, KeyCheckRow.__table__)


def stored_key_id(conn: Connection, *, lock: bool = False, share: bool = True) -> bytes | None:
    """The database's key id; `lock`: ``FOR SHARE`` (`share`) or ``FOR UPDATE`` the row until commit."""
    query = select(key_check.c.key_id).where(key_check.c.id == _ROW_ID)
    if lock:
        query = query.with_for_update(read=share)
    found = conn.execute(query).scalar_one_or_none()
    return bytes.fromhex(found) if found else None


def record_key_id(conn: Connection, kid: bytes, *, replace: bool) -> None:
    values = {"key_id": kid.hex(), "updated_at": dt.datetime.now(dt.UTC)}
    if replace:
        conn.execute(update(key_check).where(key_check.c.id == _ROW_ID).values(values))
    else:
        conn.execute(insert(key_check).values(id=_ROW_ID, **values))


def wrong_key(source: str, stored: bytes, held: bytes) -> KeyUnavailable:
    return KeyUnavailable(f"{source}: wrong key-encryption key: the stored secrets are sealed under key "
                          f"{stored.hex()}, this one is {held.hex()}")


def verify_key(conn: Connection, box: SecretBox, source: str) -> None:
    """Refuse a key that is not the database's; on a database without a check yet, record this key's,
    after checking that it opens a stored secret (a database provisioned before the check existed)."""
    stored = stored_key_id(conn, lock=True, share=False)
    if stored is not None:
        if stored != box.current_id:
            raise wrong_key(source, stored, box.current_id)
        return
    sample = conn.execute(
        select(t.subscribers.c.imsi, t.auth_data.c.ki_enc)
        .join(t.auth_data, t.auth_data.c.subscriber_id == t.subscribers.c.id).limit(1)
    ).first()
    if sample is not None:
        try:
            box.open("ki", sample.imsi, sample.ki_enc)
        except KeyUnavailable:
            raise KeyUnavailable(f"{source}: wrong key-encryption key: it does not open the stored secrets"
                                 ) from None
    record_key_id(conn, box.current_id, replace=False)


def sealing_box(conn: Connection, box: SecretBox, source: str) -> SecretBox:
    """`box`, sealing under the database's key, inside the caller's writing transaction (see module doc)."""
    stored = stored_key_id(conn, lock=True)
    if stored is None:
        record_key_id(conn, box.current_id, replace=False)
    elif stored != box.current_id:
        if not box.holds(stored):  # rotated by another process: its new key is in our source, or it is wrong
            raise wrong_key(source, stored, box.current_id)
        box.use(stored)
    return box
