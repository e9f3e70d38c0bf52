"""The charging store: accounts under row locks, named documents, CDRs, plan slots, Subscription-Ids.

Every change to an account is one transaction holding that account's lock: ``SELECT … FOR UPDATE`` on
PostgreSQL and MariaDB, ``BEGIN IMMEDIATE`` on SQLite (the store's `writing`). Readers of the result see
either all of an action set's changes or none.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from sigcore.charging import tables as t
from sigcore.charging.actions import Action
from sigcore.charging.model import Account
from sigcore.charging.times import parse_absolute
from sigcore.store import tables as st
from sigcore.store.base import StoreBase, as_utc, insert_or_update
from sigcore.store.raw import RawStatement

Clock = Callable[[], dt.datetime]

# The statements every CCR and balance change runs, compiled once (see sigcore.store.raw).
_ACCOUNT = select(t.accounts.c.id, t.accounts.c.document).where(
    and_(t.accounts.c.tenant == bindparam("tenant"), t.accounts.c.name == bindparam("name")))
SELECT_ACCOUNT = RawStatement(_ACCOUNT)
LOCK_ACCOUNT = RawStatement(_ACCOUNT.with_for_update())
UPDATE_ACCOUNT = RawStatement(update(t.accounts).where(t.accounts.c.id == bindparam("row_id")).values(
    document=bindparam("document"), updated_at=bindparam("updated_at")))
INSERT_CDR = RawStatement(insert(t.cdrs).values({name: bindparam(name) for name in (
    "cgrid", "run_id", "source", "tenant", "account", "tor", "request_type", "setup_time", "document")}))
E164, IMSI = 0, 1  # Subscription-Id-Type
MSISDN_OF_IMSI = RawStatement(select(st.subscribers.c.msisdn.label("other")).where(
    st.subscribers.c.imsi == bindparam("value")))
IMSI_OF_MSISDN = RawStatement(select(st.subscribers.c.imsi.label("other")).where(
    st.subscribers.c.msisdn == bindparam("value")))
SUBSCRIPTION = RawStatement(select(t.subscriptions.c.tenant, t.subscriptions.c.account).where(and_(
    t.subscriptions.c.id_type == bindparam("id_type"), t.subscriptions.c.value == bindparam("value"))))


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Exists(Exception):
    """A named document exists and Overwrite was not asked for."""


class NameTooLong(ValueError):
    """A tenant, account or document name longer than its column (`tables.NAME_LEN`): SQLite would keep it,
    PostgreSQL and MariaDB refuse the row; refused here on every backend alike, in words."""


#: The RPC field that names each kind of document
_DOCUMENT_FIELDS = {"actions": "ActionsId", "plan": "ActionPlan Id", "triggers": "GroupID"}


def check_names(**names: str) -> None:
    """NameTooLong for the first of ``names`` (field=value) longer than `tables.NAME_LEN`."""
    for field, value in names.items():
        if len(value) > t.NAME_LEN:
            raise NameTooLong(f"{field} longer than {t.NAME_LEN} characters")


class ChargingStore:
    def __init__(self, store: StoreBase, clock: Clock = system_clock) -> None:
        self.store = store
        self.clock = clock
        self._for_update = store.engine.dialect.name != "sqlite"
        #: On SQLite with Gy: the lock the event loop's CCR batches hold around their transactions. Account
        #: changes on other threads hold it too, so a batch finds it taken and looks again a moment later
        #: rather than waiting on the database's lock (its busy handler sleeps, on the loop), and those
        #: threads queue on it in turn rather than in that busy handler.
        self.gate: threading.Lock | None = None

    # --- accounts -----------------------------------------------------------------------------
    def _select_account(self, conn: Connection, tenant: str, name: str, lock: bool) -> Any:
        stmt = LOCK_ACCOUNT if lock and self._for_update else SELECT_ACCOUNT
        found = stmt.rows(conn, {"tenant": tenant, "name": name})
        return found[0] if found else None

    def get_account(self, tenant: str, name: str) -> Account | None:
        with self.store.reading() as conn:
            row = self._select_account(conn, tenant, name, lock=False)
        return None if row is None else Account.from_doc(tenant, name, json.loads(row.document))

    def list_accounts(self, tenant: str | None = None, offset: int = 0, limit: int | None = None) -> list[Account]:
        stmt = select(t.accounts.c.tenant, t.accounts.c.name, t.accounts.c.document).order_by(
            t.accounts.c.tenant, t.accounts.c.name).offset(offset)
        if tenant:
            stmt = stmt.where(t.accounts.c.tenant == tenant)
        if limit:
            stmt = stmt.limit(limit)
        with self.store.reading() as conn:
            return [Account.from_doc(r.tenant, r.name, json.loads(r.document)) for r in conn.execute(stmt)]

    @contextmanager
    def locked_account(self, tenant: str, name: str, *, create: bool,
                       conn: Connection | None = None) -> Iterator[tuple[Connection, AccountSlot]]:
        """The account under its lock, written back on a normal exit (the slot's account set to None
        removes it); without `create`, a missing account yields a slot holding None. Its own transaction,
        or the caller's `conn` (a batch of CCRs sharing one commit)."""
        if conn is not None:
            yield from self._locked(conn, tenant, name, create)
            return
        with self.writing() as own:
            yield from self._locked(own, tenant, name, create)

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A write transaction of its own, taking turns with the event loop's CCR batches (`gate`)."""
        if self.gate is None:
            with self.store.writing() as conn:
                yield conn
            return
        with self.gate, self.store.writing() as conn:
            yield conn

    def _locked(self, conn: Connection, tenant: str, name: str, create: bool
                ) -> Iterator[tuple[Connection, AccountSlot]]:
        if create and self._select_account(conn, tenant, name, lock=False) is None:
            # not a locking read first: of a missing row it takes MariaDB's gap lock, and two creators
            # holding one deadlock on their inserts
            row = self._create(conn, tenant, name)
        else:
            row = self._select_account(conn, tenant, name, lock=True)
            if row is None and create:  # removed since the read above
                row = self._create(conn, tenant, name)
        slot = AccountSlot(None if row is None else Account.from_doc(tenant, name, json.loads(row.document)))
        original = None if row is None else row.document
        yield conn, slot
        self._write_back(conn, tenant, name, row, original, slot)

    def _create(self, conn: Connection, tenant: str, name: str) -> Any:
        check_names(Tenant=tenant, Account=name)
        doc = json.dumps(Account(tenant, name, update_time=self.clock()).to_doc())
        try:
            with conn.begin_nested():
                conn.execute(insert(t.accounts).values(tenant=tenant, name=name, document=doc,
                                                       updated_at=self.clock()))
        except IntegrityError:  # another process created it first: take its row (and lock)
            pass
        return self._select_account(conn, tenant, name, lock=True)

    def _write_back(self, conn: Connection, tenant: str, name: str, row: Any, original: str | None,
                    slot: AccountSlot) -> None:
        if row is None:
            return
        if slot.account is None or slot.removed:
            conn.execute(delete(t.accounts).where(t.accounts.c.id == row.id))
            conn.execute(delete(t.plan_accounts).where(and_(t.plan_accounts.c.tenant == tenant,
                                                            t.plan_accounts.c.account == name)))
            return
        slot.account.update_time = self.clock()
        doc = json.dumps(slot.account.to_doc())
        if doc != original:
            UPDATE_ACCOUNT.rowcount(conn, [{"row_id": row.id, "document": doc,
                                            "updated_at": slot.account.update_time}])

    def remove_account(self, tenant: str, name: str) -> bool:
        with self.locked_account(tenant, name, create=False) as (_conn, slot):
            if slot.account is None:
                return False
            slot.removed = True
        return True

    # --- named documents (action sets, plans, trigger groups) -----------------------------------
    def set_document(self, kind: str, name: str, document: Any, overwrite: bool) -> None:
        check_names(**{_DOCUMENT_FIELDS.get(kind, kind): name})
        text = json.dumps(document)
        key = and_(t.documents.c.kind == kind, t.documents.c.name == name)
        with self.store.writing() as conn:
            found = conn.execute(select(t.documents.c.id).where(key)).first()
            if found is not None:
                if not overwrite:
                    raise Exists(name)
                conn.execute(update(t.documents).where(t.documents.c.id == found.id).values(document=text))
            elif overwrite:  # another writer may create it after our check: then ours overwrites theirs
                insert_or_update(conn, t.documents, key, {"kind": kind, "name": name, "document": text})
            else:
                try:
                    conn.execute(insert(t.documents).values(kind=kind, name=name, document=text))
                except IntegrityError:  # created after our check: exists, as it would have in turn
                    raise Exists(name) from None

    def get_document(self, kind: str, name: str, conn: Connection | None = None) -> Any:
        stmt = select(t.documents.c.document).where(and_(t.documents.c.kind == kind, t.documents.c.name == name))
        if conn is not None:
            text = conn.execute(stmt).scalar_one_or_none()
        else:
            with self.store.reading() as reader:
                text = reader.execute(stmt).scalar_one_or_none()
        return None if text is None else json.loads(text)

    def list_documents(self, kind: str) -> dict[str, Any]:
        with self.store.reading() as conn:
            rows = conn.execute(select(t.documents.c.name, t.documents.c.document).where(
                t.documents.c.kind == kind).order_by(t.documents.c.name))
            return {r.name: json.loads(r.document) for r in rows}

    def remove_document(self, kind: str, name: str) -> bool:
        with self.store.writing() as conn:
            done = conn.execute(delete(t.documents).where(and_(t.documents.c.kind == kind,
                                                               t.documents.c.name == name)))
            if kind == "plan":
                conn.execute(delete(t.plan_accounts).where(t.plan_accounts.c.plan == name))
            return bool(done.rowcount)

    def actions(self, name: str, conn: Connection | None = None) -> list[Action] | None:
        doc = self.get_document("actions", name, conn)
        return None if doc is None else [Action.from_doc(a) for a in doc]

    # --- plan bindings and slots ------------------------------------------------------------------
    def bind_plan(self, plan: str, tenant: str, account: str) -> bool:
        """Attach; False when it was attached already."""
        try:
            with self.store.writing() as conn:
                conn.execute(insert(t.plan_accounts).values(plan=plan, tenant=tenant, account=account,
                                                            since=self.clock()))
        except IntegrityError:
            return False
        return True

    def unbind_plans(self, tenant: str, account: str, except_plans: list[str] | None = None) -> None:
        cond = and_(t.plan_accounts.c.tenant == tenant, t.plan_accounts.c.account == account)
        if except_plans:
            cond = and_(cond, t.plan_accounts.c.plan.not_in(except_plans))
        with self.store.writing() as conn:
            conn.execute(delete(t.plan_accounts).where(cond))

    def unbind_plan(self, plan: str, tenant: str | None = None, account: str | None = None) -> None:
        cond = t.plan_accounts.c.plan == plan
        if tenant is not None and account is not None:
            cond = and_(cond, t.plan_accounts.c.tenant == tenant, t.plan_accounts.c.account == account)
        with self.store.writing() as conn:
            conn.execute(delete(t.plan_accounts).where(cond))

    def plan_accounts(self, plan: str) -> list[tuple[str, str, dt.datetime]]:
        """(tenant, account, attached since) of every account the plan runs on."""
        with self.store.reading() as conn:
            rows = conn.execute(select(t.plan_accounts.c.tenant, t.plan_accounts.c.account,
                                       t.plan_accounts.c.since).where(
                t.plan_accounts.c.plan == plan).order_by(t.plan_accounts.c.id))
            return [(r.tenant, r.account, as_utc(r.since) or self.clock()) for r in rows]

    def bound_plans(self) -> list[str]:
        with self.store.reading() as conn:
            return list(conn.execute(select(t.plan_accounts.c.plan).distinct()).scalars())

    def account_plans(self, tenant: str, account: str) -> list[str]:
        with self.store.reading() as conn:
            rows = conn.execute(select(t.plan_accounts.c.plan).where(and_(
                t.plan_accounts.c.tenant == tenant, t.plan_accounts.c.account == account)).order_by(
                t.plan_accounts.c.id))
            return [r.plan for r in rows]

    def claim_slot(self, conn: Connection, plan: str, timing: str, slot: dt.datetime, tenant: str,
                   account: str) -> bool:
        """Record the slot as run for the account, in the transaction that runs it; False if any process
        claimed it before."""
        try:
            with conn.begin_nested():
                conn.execute(insert(t.plan_runs).values(plan=plan, timing=timing, slot=slot, tenant=tenant,
                                                        account=account, ran_at=self.clock()))
        except IntegrityError:
            return False
        return True

    def run_count(self, plan: str, tenant: str, account: str) -> int:
        from sqlalchemy import func

        with self.store.reading() as conn:
            return int(conn.execute(select(func.count()).select_from(t.plan_runs).where(and_(
                t.plan_runs.c.plan == plan, t.plan_runs.c.tenant == tenant,
                t.plan_runs.c.account == account))).scalar_one())

    # --- CDRs ---------------------------------------------------------------------------------------
    def add_cdrs(self, conn: Connection, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        INSERT_CDR.rowcount(conn, [{
            "cgrid": r["CGRID"], "run_id": r["RunID"], "source": r["Source"], "tenant": r["Tenant"],
            "account": r["Account"], "tor": r["ToR"], "request_type": r["RequestType"],
            "setup_time": parse_absolute(r["SetupTime"]), "document": json.dumps(r),
        } for r in records])

    def get_cdrs(self, *, tenants: list[str] | None = None, accounts: list[str] | None = None,
                 sources: list[str] | None = None, run_ids: list[str] | None = None, cgrids: list[str] | None = None,
                 request_types: list[str] | None = None, setup_start: dt.datetime | None = None,
                 setup_end: dt.datetime | None = None, offset: int = 0, limit: int | None = None
                 ) -> list[dict[str, Any]]:
        c = t.cdrs.c
        stmt = select(c.id, c.document).order_by(c.id).offset(offset)
        for column, values in ((c.tenant, tenants), (c.account, accounts), (c.source, sources),
                               (c.run_id, run_ids), (c.cgrid, cgrids), (c.request_type, request_types)):
            if values:
                stmt = stmt.where(column.in_(values))
        if setup_start is not None:
            stmt = stmt.where(c.setup_time >= setup_start)
        if setup_end is not None:
            stmt = stmt.where(c.setup_time < setup_end)
        if limit:
            stmt = stmt.limit(limit)
        with self.store.reading() as conn:
            out = []
            for row in conn.execute(stmt):
                record = json.loads(row.document)
                record["OrderID"] = row.id
                out.append(record)
            return out

    # --- Subscription-Id mapping ---------------------------------------------------------------------
    def map_subscription(self, id_type: int, value: str, tenant: str, account: str) -> None:
        check_names(Tenant=tenant, Account=account)
        if len(value) > t.IDENTITY_LEN:
            raise NameTooLong(f"Subscription-Id-Data longer than {t.IDENTITY_LEN} characters")
        key = and_(t.subscriptions.c.id_type == id_type, t.subscriptions.c.value == value)
        with self.store.writing() as conn:  # a new mapping of the identity replaces the old one
            insert_or_update(conn, t.subscriptions, key, dict(id_type=id_type, value=value, tenant=tenant,
                                                              account=account))

    def resolve(self, ids: list[tuple[int, str]], tenant: str, conn: Connection | None = None
                ) -> tuple[str, str] | None:
        """The account Subscription-Ids (type, data) name: the first mapped one, else the first whose data
        is an account's name in `tenant`, else the account named by the other identity the HSS's subscriber
        record pairs with an IMSI or MSISDN given (an account named by MSISDN found from an IMSI-only CCR,
        and the reverse). One connection (the caller's if given), no document read."""
        if conn is None:
            with self.store.reading() as own:
                return self.resolve(ids, tenant, own)
        for id_type, value in ids:
            rows = SUBSCRIPTION.rows(conn, {"id_type": id_type, "value": value})
            if rows:
                return rows[0].tenant, rows[0].account
        for _type, value in ids:
            if SELECT_ACCOUNT.rows(conn, {"tenant": tenant, "name": value}):
                return tenant, value
        for id_type, value in ids:  # the HSS's subscriber knows the other identity of the pair
            if id_type not in (E164, IMSI):
                continue
            other = (MSISDN_OF_IMSI if id_type == IMSI else IMSI_OF_MSISDN).rows(conn, {"value": value})
            if other and other[0].other and SELECT_ACCOUNT.rows(conn, {"tenant": tenant, "name": other[0].other}):
                return tenant, str(other[0].other)
        return None


class AccountSlot:
    """The account a `locked_account` block works on; ``removed`` deletes it at commit."""

    __slots__ = ("account", "removed")

    def __init__(self, account: Account | None) -> None:
        self.account = account
        self.removed = False
