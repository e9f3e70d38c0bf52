"""Bulk provisioning (SIM vendor batches): many subscribers per transaction, each row accepted or rejected.

`Store.add_subscriber` costs several round trips per subscriber; a batch of 100k would take minutes. Here
each chunk is one transaction with one multi-row INSERT per table: the subscribers, then (after reading
back their ids in one SELECT) their auth data, serving state and APNs. Rows that cannot go in (bad
values are rejected earlier by the caller; here: IMSI or MSISDN already provisioned, or repeated in the
batch) are reported with the reason and the rest of the chunk goes in. If the chunk still hits a unique
constraint (someone else provisioned the same IMSI meanwhile), it is rolled back and retried row by row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from sigcore.store import tables as t
from sigcore.store import validate as v
from sigcore.store.base import utc_now
from sigcore.store.errors import InvalidValue, NotFound, StoreError
from sigcore.store.records import AuthAlgorithm, NetworkAccessMode, RoamingPolicy, SubscriberStatus
from sigcore.store.store import Store

_EXISTING_IMSIS = select(t.subscribers.c.imsi).where(t.subscribers.c.imsi.in_(bindparam("values", expanding=True)))
_EXISTING_MSISDNS = select(t.subscribers.c.msisdn).where(
    t.subscribers.c.msisdn.in_(bindparam("values", expanding=True))
)
_IDS = select(t.subscribers.c.imsi, t.subscribers.c.id).where(
    t.subscribers.c.imsi.in_(bindparam("values", expanding=True))
)


@dataclass(frozen=True, slots=True)
class NewSubscriber:
    """One validated batch row: keys as 16 raw bytes (``repr`` hides them), exactly one of opc/op."""

    line: int
    imsi: str
    ki: bytes = field(repr=False)
    opc: bytes | None = field(repr=False, default=None)
    op: bytes | None = field(repr=False, default=None)
    amf: int = 0x8000
    sqn: int = 0
    msisdn: str | None = None
    iccid: str | None = None
    apns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rejected:
    line: int
    imsi: str | None
    reason: str


@dataclass
class BulkResult:
    imported: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    created_apns: list[str] = field(default_factory=list)


class BulkImporter:
    """Feeds chunks of `NewSubscriber` into `store`; remembers IMSIs/MSISDNs across chunks to catch repeats.

    With ``dry_run`` nothing is written: the same checks run against the database and the rows seen so
    far, and APN profiles that would be created are reported as created.
    """

    def __init__(self, store: Store, *, dry_run: bool = False) -> None:
        self.store = store
        self.dry_run = dry_run
        self.result = BulkResult()
        self._seen_imsis: set[str] = set()
        self._seen_msisdns: set[str] = set()
        self._apn_ids: dict[str, int] = {}
        self._unusable_apns: dict[str, str] = {}
        self._would_create: set[str] = set()

    def reject(self, line: int, imsi: str | None, reason: str) -> None:
        self.result.rejected.append(Rejected(line, imsi, reason))

    def add(self, rows: Sequence[NewSubscriber]) -> int:
        """Insert one chunk in one transaction; returns how many rows of it were accepted."""
        rows = self._with_usable_apns(rows)
        self._resolve_apns({name for row in rows for name in row.apns})
        with self.store.reading() as conn:
            accepted = self._unique_rows(conn, rows)
        if not self.dry_run and accepted:
            try:
                with self.store.writing() as conn:
                    self._insert(conn, accepted)
            except IntegrityError:
                accepted = self._one_by_one(accepted)
        self.result.imported += len(accepted)
        return len(accepted)

    def _with_usable_apns(self, rows: Sequence[NewSubscriber]) -> list[NewSubscriber]:
        """The rows whose APNs all exist or can be created; the others rejected (before any is created)."""
        usable = []
        for row in rows:
            reason = next(filter(None, map(self._unusable, row.apns)), None)
            if reason is None:
                usable.append(row)
            else:
                self.reject(row.line, row.imsi, reason)
        return usable

    def _unusable(self, name: str) -> str | None:
        """Why `name` cannot be used: not an APN name for a new profile, or several case variants exist
        and none is spelled so."""
        if name not in self._apn_ids and name not in self._unusable_apns:
            try:
                try:
                    self._apn_ids[name] = self.store.get_apn(name).id
                except NotFound:
                    v.new_apn_name(name)
            except InvalidValue as err:
                self._unusable_apns[name] = str(err)
        return self._unusable_apns.get(name)

    def _resolve_apns(self, names: Iterable[str]) -> None:
        for name in sorted(set(names) - set(self._apn_ids)):
            if self.dry_run:
                self._apn_ids[name] = -1
                if name.lower() not in self._would_create:  # "Internet" after "internet": the same new profile
                    self._would_create.add(name.lower())
                    self.result.created_apns.append(name)
                continue
            profile, created = self.store.ensure_apn(name)
            self._apn_ids[name] = profile.id
            if created:
                self.result.created_apns.append(profile.name)

    def _unique_rows(self, conn: Connection, rows: Sequence[NewSubscriber]) -> list[NewSubscriber]:
        imsis = [r.imsi for r in rows]
        msisdns = [r.msisdn for r in rows if r.msisdn]
        taken_imsis = set(conn.execute(_EXISTING_IMSIS, {"values": imsis}).scalars()) if imsis else set()
        taken_msisdns = set(conn.execute(_EXISTING_MSISDNS, {"values": msisdns}).scalars()) if msisdns else set()
        accepted = []
        for row in rows:
            if row.imsi in self._seen_imsis:
                self.reject(row.line, row.imsi, "imsi: repeated in this file")
            elif row.imsi in taken_imsis:
                self.reject(row.line, row.imsi, "imsi: already provisioned")
            elif row.msisdn and row.msisdn in self._seen_msisdns:
                self.reject(row.line, row.imsi, f"msisdn: {row.msisdn} repeated in this file")
            elif row.msisdn and row.msisdn in taken_msisdns:
                self.reject(row.line, row.imsi, f"msisdn: {row.msisdn} belongs to another subscriber")
            else:
                accepted.append(row)
                self._seen_imsis.add(row.imsi)
                if row.msisdn:
                    self._seen_msisdns.add(row.msisdn)
        return accepted

    def _insert(self, conn: Connection, rows: Sequence[NewSubscriber]) -> None:
        now = utc_now()
        conn.execute(insert(t.subscribers), [self._subscriber_columns(r, now) for r in rows])
        ids = {imsi: sid for imsi, sid in conn.execute(_IDS, {"values": [r.imsi for r in rows]})}
        box = self.store.sealing_box(conn)
        conn.execute(insert(t.auth_data), [
            {"subscriber_id": ids[r.imsi], "ki_enc": box.seal("ki", r.imsi, r.ki),
             "opc_enc": box.seal("opc", r.imsi, r.opc) if r.opc is not None else None,
             "op_enc": box.seal("op", r.imsi, r.op) if r.op is not None else None,
             "amf": r.amf, "sqn": r.sqn, "algorithm": AuthAlgorithm.MILENAGE.value, "updated_at": now}
            for r in rows
        ])
        conn.execute(insert(t.serving_state), [{"subscriber_id": ids[r.imsi], "mme_purged": False,
                                                "sgsn_purged": False} for r in rows])
        apn_rows = [
            {"subscriber_id": ids[r.imsi], "apn_id": self._apn_ids[name], "context_id": context,
             "static_ipv4": None, "static_ipv6": None}
            for r in rows for context, name in enumerate(r.apns, start=1)
        ]
        if apn_rows:
            conn.execute(insert(t.subscriber_apns), apn_rows)

    def _subscriber_columns(self, row: NewSubscriber, now: object) -> dict[str, object]:
        return {
            "imsi": row.imsi, "msisdn": row.msisdn, "iccid": row.iccid, "enabled": True,
            "status": SubscriberStatus.SERVICE_GRANTED.value, "odb": 0, "nam": NetworkAccessMode.ONLY_PACKET.value,
            "ue_ambr_ul": 0, "ue_ambr_dl": 0, "access_restriction": 0,
            "roaming_policy": RoamingPolicy.ALLOW_ALL.value, "tau_timer": None,
            "default_apn_id": self._apn_ids[row.apns[0]] if row.apns else None,
            "created_at": now, "updated_at": now,
        }

    def _one_by_one(self, rows: Sequence[NewSubscriber]) -> list[NewSubscriber]:
        """The chunk lost a race on a unique value: add its rows singly and reject the ones that conflict."""
        accepted = []
        for row in rows:
            try:
                self.store.add_subscriber(row.imsi, ki=row.ki, opc=row.opc, op=row.op, amf=row.amf, sqn=row.sqn,
                                          apns=row.apns, msisdn=row.msisdn, iccid=row.iccid)
            except StoreError as err:
                self.reject(row.line, row.imsi, str(err))
            else:
                accepted.append(row)
        return accepted

