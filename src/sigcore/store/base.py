"""What every repository part of `Store` shares: the engine, the secret box, transactions, id lookups."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Self

from sqlalchemy import ColumnElement, Connection, CursorResult, Engine, Table, bindparam, insert, select, update
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from sigcore.store import tables as t
from sigcore.store.crypto import SecretBox
from sigcore.store.engine import SqliteSync, make_engine
from sigcore.store.errors import DatabaseUnavailable, KeyUnavailable, NotFound, SchemaNotCurrent
from sigcore.store.keycheck import sealing_box, stored_key_id, verify_key
from sigcore.store.migrate import current_revision, head_revision, migrate

SUBSCRIBER_ID_BY_IMSI = select(t.subscribers.c.id).where(t.subscribers.c.imsi == bindparam("imsi"))
"""Also used as a scalar subquery, so that hot statements address a subscriber's rows in one round trip."""
SUBSCRIBER_ID_SUBQUERY = SUBSCRIBER_ID_BY_IMSI.scalar_subquery()


def new_id(result: CursorResult[Any]) -> int:
    """The primary key of the row an INSERT just created (portable: no RETURNING needed)."""
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def insert_or_update(conn: Connection, table: Table, key: ColumnElement[bool], values: dict[str, Any]) -> None:
    """Insert the row `values`, or update the row of its unique `key` when there is one: a concurrent writer
    may have inserted it after any check of ours, and the last writer wins as it would have in turn.

    The insert comes first, in a savepoint: a check (or an update of no row) before it would take
    MariaDB's gap lock, and two writers each holding one deadlock on their inserts.
    """
    try:
        with conn.begin_nested():
            conn.execute(insert(table).values(values))
    except IntegrityError:
        if not conn.execute(update(table).where(key).values(values)).rowcount:
            raise  # not the unique key (a foreign key, say): nothing to update


def insert_or_find(conn: Connection, table: Table, key: ColumnElement[bool], values: dict[str, Any]
                   ) -> tuple[int, bool]:
    """The id of a new row `values` (and True), or of the row of its unique `key` that a concurrent writer
    inserted after our check that there was none (and False).

    The insert is in a savepoint, so the transaction goes on after it fails; the row is then read
    locking, as MariaDB's REPEATABLE READ would show a plain read the snapshot from before it was there.
    """
    try:
        with conn.begin_nested():
            return new_id(conn.execute(insert(table).values(values))), True
    except IntegrityError:
        found = conn.execute(select(table.c.id).where(key).with_for_update(read=True)).scalar_one_or_none()
        if found is None:
            raise  # not the unique key (a foreign key, say)
        return int(found), False


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite and MariaDB return naive datetimes; everything the store writes is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


class StoreBase:
    """Holds the engine (one per store, created once) and the key box; see `sigcore.store.Store`."""

    def __init__(
        self,
        url: str | URL,
        kek: bytes | None,
        *,
        pool_size: int = 5,
        sqlite_synchronous: SqliteSync = "normal",
        auto_migrate: bool = False,
        kek_error: str | None = None,
        key_source: str = "the key given",
        key_reload: Callable[[], list[bytes]] | None = None,
    ) -> None:
        self.engine: Engine = make_engine(url, pool_size=pool_size, sqlite_synchronous=sqlite_synchronous)
        self._sqlite = self.engine.dialect.name == "sqlite"
        self._box = SecretBox(kek, key_reload) if kek is not None else None
        self.key_source = key_source
        self._kek_error = kek_error or "no key-encryption key was given to the store"
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        try:
            if auto_migrate:
                migrate(self.engine)
            self._check_schema()
        except OperationalError as err:  # the first contact: one line for every command, not a driver traceback
            self.engine.dispose()
            why = str(err.orig or err).strip().splitlines()[0]
            raise DatabaseUnavailable(f"cannot open the database {self.engine.url!r}: {why}") from err
        if self._box is not None:
            try:
                self._verify_key(self._box)
            except BaseException:
                self.engine.dispose()
                raise

    def _verify_key(self, box: SecretBox) -> None:
        """The key must be the database's (`keycheck`); two first openers racing on PostgreSQL: one
        inserts the check row, the other's insert fails and it checks against that row."""
        try:
            with self.writing() as conn:
                verify_key(conn, box, self.key_source)
        except IntegrityError:
            with self.writing() as conn:
                verify_key(conn, box, self.key_source)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.engine.url!r})"  # URL repr masks the password

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _check_schema(self) -> None:
        with self.engine.connect() as conn:
            have = current_revision(conn)
        want = head_revision()
        if have != want:
            raise SchemaNotCurrent(
                f"database {self.engine.url!r} is at schema revision {have or 'none (empty)'}, this sigcore "
                f"needs {want}: `sigcore run` and the `sigcore subscriber` commands migrate it"
            )

    def key_check(self) -> bytes | None:
        """The key id the stored secrets are sealed under (None: no key was used on this database yet)."""
        with self.reading() as conn:
            return stored_key_id(conn)

    @property
    def box(self) -> SecretBox:
        """The key box; raises `KeyUnavailable` (with the configuration hint) when no KEK is loaded."""
        if self._box is None:
            raise KeyUnavailable(self._kek_error)
        return self._box

    def sealing_box(self, conn: Connection) -> SecretBox:
        """The key box to seal secrets with inside the writing transaction `conn`: refuses a key that is not
        the database's, follows a rotation by another process (see `sigcore.store.keycheck`)."""
        return sealing_box(conn, self.box, self.key_source)

    def session(self) -> Session:
        """An ORM session on this store's engine, for areas that prefer the ORM over the repository."""
        return self._sessions()

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for reads; its implicit transaction is rolled back on exit."""
        with self.engine.connect() as conn:
            yield conn

    def writing(self, conn: Connection | None = None) -> AbstractContextManager[Connection]:
        """One transaction, committed on normal exit, rolled back on an exception.

        On SQLite it starts with ``BEGIN IMMEDIATE``: the write lock is taken before the first read, so a
        read-then-write (SQN reservation, serving MME swap) cannot interleave with another process's.

        ``conn``: run it on this open connection (the HSS batch worker keeps one) instead of one from the
        pool; the pool's checkout, checkin and reset cost a small batch more than its SQL on SQLite.
        """
        if conn is not None and self._sqlite:
            return _DriverTransaction(conn)
        return self._writing(conn)

    @contextmanager
    def _writing(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is None:
            with self.engine.connect() as pooled:
                yield from self._transaction(pooled)
        else:
            yield from self._transaction(conn)

    def _transaction(self, conn: Connection) -> Iterator[Connection]:
        if self._sqlite:
            conn.begin()  # SQLAlchemy's bookkeeping: on pysqlite its begin emits nothing
            _begin_immediate(conn)
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()

    @staticmethod
    def subscriber_id(conn: Connection, imsi: str) -> int:
        found = conn.execute(SUBSCRIBER_ID_BY_IMSI, {"imsi": imsi}).scalar_one_or_none()
        if found is None:
            raise NotFound(f"no subscriber with IMSI {imsi}")
        return int(found)


def _begin_immediate(conn: Connection) -> Any:
    """SQLite's ``BEGIN IMMEDIATE`` straight to the driver (``exec_driver_sql``'s machinery costs a small
    batch more than the statement); returns the driver's connection."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    dbapi.cursor().execute("BEGIN IMMEDIATE")
    return dbapi


class _DriverTransaction:
    """SQLite on a connection its caller keeps open: the transaction is the driver's own ``BEGIN
    IMMEDIATE`` … ``COMMIT``. SQLAlchemy's transaction on the connection is begun once and left open (on
    pysqlite its begin and commit emit nothing: they are bookkeeping, a noticeable share of a one-item
    batch), so statements run through the Connection still run in a transaction. A failed commit
    rolls back, so the connection stays usable. A class rather than a generator context manager: this is
    every lone AIR's and ULR's transaction, and contextlib's machinery cost it more than BEGIN did."""

    __slots__ = ("conn", "dbapi")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dbapi: Any = None

    def __enter__(self) -> Connection:
        conn = self.conn
        if not conn.in_transaction():
            conn.begin()
        self.dbapi = _begin_immediate(conn)
        return conn

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc_type is not None:
            self.dbapi.rollback()
            return
        try:
            self.dbapi.commit()
        except BaseException:
            self.dbapi.rollback()
            raise
