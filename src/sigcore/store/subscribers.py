"""Subscribers and their APN lists (no secrets here: keys live in `auc.py`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    and_,
    bindparam,
    delete,
    false,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from sigcore.store import tables as t
from sigcore.store import validate as v
from sigcore.store.apns import ApnRepository, apn_from_row, find_apn
from sigcore.store.base import SUBSCRIBER_ID_BY_IMSI, as_utc, new_id, utc_now
from sigcore.store.errors import Conflict, InvalidValue, NotFound
from sigcore.store.raw import RawStatement
from sigcore.store.records import (
    AddedSubscriber,
    ApnAssignment,
    ApnProfile,
    ApnRequest,
    AuthAlgorithm,
    NetworkAccessMode,
    RoamingPolicy,
    Subscriber,
    SubscriberFilter,
    SubscriberStatus,
)

PROFILE_FIELDS = frozenset(
    {
        "msisdn", "iccid", "enabled", "status", "odb", "nam", "ue_ambr_ul", "ue_ambr_dl",
        "access_restriction", "roaming_policy", "tau_timer",
    }
)
"""Plain columns of a subscriber that `add_subscriber` and `update_subscriber` accept by name."""

_APN_COLUMNS = [c.label(f"apn_{c.name}") for c in t.apn_profiles.c]
_ASSIGNMENT_COLUMNS = [
    t.subscriber_apns.c.context_id, t.subscriber_apns.c.static_ipv4, t.subscriber_apns.c.static_ipv6, *_APN_COLUMNS
]
_PROFILE_BY = (
    select(t.subscribers, *_ASSIGNMENT_COLUMNS)
    .select_from(
        t.subscribers.outerjoin(t.subscriber_apns, t.subscriber_apns.c.subscriber_id == t.subscribers.c.id)
        .outerjoin(t.apn_profiles, t.apn_profiles.c.id == t.subscriber_apns.c.apn_id)
    )
    .order_by(t.subscriber_apns.c.context_id)
)
_PROFILE_BY_IMSI = _PROFILE_BY.where(t.subscribers.c.imsi == bindparam("imsi"))
_RAW_PROFILE_BY_IMSI = RawStatement(_PROFILE_BY_IMSI)
_PROFILE_BY_MSISDN = _PROFILE_BY.where(t.subscribers.c.msisdn == bindparam("msisdn"))
_APNS_OF = (
    select(t.subscriber_apns.c.subscriber_id, *_ASSIGNMENT_COLUMNS)
    .join(t.apn_profiles, t.apn_profiles.c.id == t.subscriber_apns.c.apn_id)
    .where(t.subscriber_apns.c.subscriber_id.in_(bindparam("ids", expanding=True)))
    .order_by(t.subscriber_apns.c.subscriber_id, t.subscriber_apns.c.context_id)
)
_MSISDN_OWNER = select(t.subscribers.c.imsi).where(t.subscribers.c.msisdn == bindparam("msisdn"))


def profile_columns(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Check subscriber profile fields and turn them into column values."""
    unknown = set(fields) - PROFILE_FIELDS
    if unknown:
        raise InvalidValue(f"{sorted(unknown)[0]}: not a field of a subscriber")
    out = dict(fields)
    if "msisdn" in out:
        out["msisdn"] = v.optional_digits("msisdn", out["msisdn"], 1, 15)
    if "iccid" in out:
        out["iccid"] = v.optional_digits("iccid", out["iccid"], 18, 22)
    for name, enum in (("status", SubscriberStatus), ("nam", NetworkAccessMode), ("roaming_policy", RoamingPolicy)):
        if name in out:
            out[name] = v.choice(name, enum, out[name]).value
    for name, high in (("odb", 2**31 - 1), ("access_restriction", 2**31 - 1), ("ue_ambr_ul", v.BITRATE_MAX),
                       ("ue_ambr_dl", v.BITRATE_MAX)):
        if name in out:
            v.int_range(name, out[name], 0, high)
    if out.get("tau_timer") is not None:
        v.int_range("tau_timer", out["tau_timer"], 0, 2**31 - 1)
    if "enabled" in out:
        out["enabled"] = bool(out["enabled"])
    return out


def _apn_requests(apns: Iterable[str | ApnRequest], default_apn: str | None) -> list[ApnRequest]:
    """Normalise an APN list: requests, names checked, no duplicates, the default APN included (first)."""
    requests = [a if isinstance(a, ApnRequest) else ApnRequest(a) for a in apns]
    requests = [
        ApnRequest(v.apn_name(r.name), v.ip("static_ipv4", r.static_ipv4, 4), v.ip("static_ipv6", r.static_ipv6, 6))
        for r in requests
    ]
    names = {name.lower() for name in v.apn_names(r.name for r in requests)}
    if default_apn is not None and v.apn_name(default_apn).lower() not in names:
        requests.insert(0, ApnRequest(v.apn_name(default_apn)))
    return requests


def _named(profiles: Sequence[ApnProfile], name: str) -> ApnProfile | None:
    """The profile of `profiles` that `name` names: spelled exactly so, else in another case."""
    return (next((p for p in profiles if p.name == name), None)
            or next((p for p in profiles if p.name.lower() == name.lower()), None))


def _assignment(m: Mapping[Any, Any]) -> ApnAssignment:
    profile = apn_from_row({c.name: m[f"apn_{c.name}"] for c in t.apn_profiles.c})
    return ApnAssignment(profile, m["context_id"], m["static_ipv4"], m["static_ipv6"])


def _subscriber(m: Mapping[Any, Any], apns: Sequence[ApnAssignment]) -> Subscriber:
    default = next((a.name for a in apns if a.profile.id == m["default_apn_id"]), None)
    return Subscriber(
        id=m["id"], imsi=m["imsi"], msisdn=m["msisdn"], iccid=m["iccid"], enabled=bool(m["enabled"]),
        status=SubscriberStatus(m["status"]), odb=m["odb"], nam=NetworkAccessMode(m["nam"]),
        ue_ambr_ul=m["ue_ambr_ul"], ue_ambr_dl=m["ue_ambr_dl"], default_apn=default, apns=tuple(apns),
        access_restriction=m["access_restriction"], roaming_policy=RoamingPolicy(m["roaming_policy"]),
        tau_timer=m["tau_timer"], created_at=as_utc(m["created_at"]), updated_at=as_utc(m["updated_at"]),
    )


def _subscriber_from_join(rows: Sequence[Row[Any]]) -> Subscriber | None:
    return _subscriber_from_mappings([r._mapping for r in rows])


def _subscriber_from_mappings(rows: Sequence[Mapping[Any, Any]]) -> Subscriber | None:
    if not rows:
        return None
    apns = [_assignment(r) for r in rows if r["apn_id"] is not None]
    return _subscriber(rows[0], apns)


class SubscriberRepository(ApnRepository):
    def add_subscriber(
        self,
        imsi: str,
        *,
        ki: bytes | str,
        opc: bytes | str | None = None,
        op: bytes | str | None = None,
        amf: int = 0x8000,
        sqn: int = 0,
        algorithm: str = AuthAlgorithm.MILENAGE,
        apns: Iterable[str | ApnRequest] = (),
        default_apn: str | None = None,
        create_missing_apns: bool = True,
        **profile: Any,
    ) -> AddedSubscriber:
        """Provision a subscriber with its keys, APNs, empty serving state; all or nothing.

        Exactly one of `opc` and `op` is required. APN names without a profile get the default profile
        (when `create_missing_apns`) and are listed in the result's ``created_apns`` so the caller can say
        so. The default APN is `default_apn`, else the first of `apns`.
        """
        imsi = v.imsi(imsi)
        key_values = self._key_values(ki=ki, opc=opc, op=op, require_one_of_opc_op=True)
        columns = {**profile_columns(profile), "imsi": imsi}
        requests = _apn_requests(apns, default_apn)
        profiles, created = self._resolve_apns(requests, create_missing_apns)
        auth = {"amf": v.amf(amf), "sqn": v.sqn(sqn),
                "algorithm": v.choice("algorithm", AuthAlgorithm, algorithm).value}
        try:
            with self.writing() as conn:
                if conn.execute(SUBSCRIBER_ID_BY_IMSI, {"imsi": imsi}).first() is not None:
                    raise Conflict(f"a subscriber with IMSI {imsi} exists")
                self._check_msisdn_free(conn, columns.get("msisdn"), imsi)
                if profiles:
                    chosen = profiles[0] if default_apn is None else _named(profiles, v.apn_name(default_apn))
                    columns["default_apn_id"] = (chosen or profiles[0]).id
                sid = new_id(conn.execute(insert(t.subscribers), columns))
                self._write_apns(conn, sid, requests, profiles)
                sealed = self._sealed(conn, imsi, key_values)
                conn.execute(insert(t.auth_data), {**auth, **sealed, "subscriber_id": sid})
                conn.execute(insert(t.serving_state), {"subscriber_id": sid})
                subscriber = self._profile(conn, imsi)
        except IntegrityError:
            raise Conflict(f"IMSI {imsi} or its MSISDN is already provisioned") from None
        return AddedSubscriber(subscriber, tuple(created))

    def get_subscriber(self, imsi: str) -> Subscriber:
        """The profile and APNs of `imsi` in one query; `NotFound` if unknown."""
        with self.reading() as conn:
            return self._profile(conn, imsi)

    @staticmethod
    def subscriber_on(conn: Connection, imsi: str) -> Subscriber:
        """`get_subscriber` inside the caller's transaction (the ULR's batch, after its locked read), on the
        DB-API cursor: a profile not cached yet is read at a fraction of SQLAlchemy's cost."""
        found = _subscriber_from_mappings([r._asdict() for r in _RAW_PROFILE_BY_IMSI.rows(conn, {"imsi": imsi})])
        if found is None:
            raise NotFound(f"no subscriber with IMSI {imsi}")
        return found

    def get_subscriber_by_msisdn(self, msisdn: str) -> Subscriber:
        with self.reading() as conn:
            found = _subscriber_from_join(conn.execute(_PROFILE_BY_MSISDN, {"msisdn": msisdn}).all())
        if found is None:
            raise NotFound(f"no subscriber with MSISDN {msisdn}")
        return found

    def list_subscribers(
        self, offset: int = 0, limit: int = 100, filters: SubscriberFilter | None = None, *,
        after: str | None = None, order: str = "imsi",
    ) -> list[Subscriber]:
        """A page of subscribers ordered by IMSI (or by MSISDN, skipping those without one): one query for the
        page, one for all their APNs. `after` is the last key of the previous page (keyset paging: a page deep
        into a million rows costs what the first one does, where `offset` walks every row before it)."""
        if order not in ("imsi", "msisdn"):
            raise InvalidValue(f"order: expected imsi or msisdn, not {order!r}")
        key = t.subscribers.c[order]
        filters = filters or SubscriberFilter()
        with self.reading() as conn:
            query = _filtered(select(t.subscribers), filters, _apn_condition(conn, filters.apn))
            if order == "msisdn":
                query = query.where(key.is_not(None))
            if after is not None:
                query = query.where(key > after)
            query = query.order_by(key).offset(max(offset, 0)).limit(max(min(limit, 10_000), 0))
            rows = [r._mapping for r in conn.execute(query)]
            apns: dict[int, list[ApnAssignment]] = {r["id"]: [] for r in rows}
            if rows:
                for row in conn.execute(_APNS_OF, {"ids": list(apns)}):
                    apns[row.subscriber_id].append(_assignment(row._mapping))
        return [_subscriber(r, apns[r["id"]]) for r in rows]

    def count_subscribers(self, filters: SubscriberFilter | None = None) -> int:
        filters = filters or SubscriberFilter()
        with self.reading() as conn:
            query = _filtered(select(func.count()).select_from(t.subscribers), filters,
                              _apn_condition(conn, filters.apn))
            return int(conn.execute(query).scalar_one())

    def update_subscriber(self, imsi: str, **changes: Any) -> Subscriber:
        """Change profile fields, ``apns`` (replaces the list) and/or ``default_apn``; returns the result.

        APN names without a profile get the default profile, as in `add_subscriber`.
        """
        apns = changes.pop("apns", None)
        default_apn = changes.pop("default_apn", None)
        columns = profile_columns(changes)
        requests = _apn_requests(apns, default_apn) if apns is not None else None
        profiles = self._resolve_apns(requests, True)[0] if requests is not None else None
        try:
            return self._update(imsi, columns, requests, profiles, default_apn)
        except IntegrityError:  # another writer got in between our checks and our write
            if columns.get("msisdn") is not None:
                raise Conflict(f"MSISDN {columns['msisdn']} belongs to another subscriber") from None
            raise Conflict(f"IMSI {imsi}: a concurrent change conflicts with this one; try again") from None

    def _update(self, imsi: str, columns: dict[str, Any], requests: list[ApnRequest] | None,
                profiles: list[ApnProfile] | None, default_apn: str | None) -> Subscriber:
        with self.writing() as conn:
            if requests is not None:  # writers replacing the APN list take turns: on PostgreSQL the second
                # one's delete missed the first one's new rows, and its insert then broke their key
                conn.execute(SUBSCRIBER_ID_BY_IMSI.with_for_update(), {"imsi": imsi})
            current = self._profile(conn, imsi)
            self._check_msisdn_free(conn, columns.get("msisdn"), imsi)
            if requests is not None and profiles is not None:
                conn.execute(delete(t.subscriber_apns).where(t.subscriber_apns.c.subscriber_id == current.id))
                self._write_apns(conn, current.id, requests, profiles)
                keep = default_apn or current.default_apn
                chosen = (_named(profiles, keep) if keep else None) or (profiles[0] if profiles else None)
                columns["default_apn_id"] = chosen.id if chosen else None
            elif default_apn is not None:
                assignment = current.apn(v.apn_name(default_apn))
                if assignment is None:
                    raise InvalidValue(f"default_apn: {default_apn!r} is not one of the subscriber's APNs")
                columns["default_apn_id"] = assignment.profile.id
            columns["updated_at"] = utc_now()
            bump = {"profile_version": t.subscribers.c.profile_version + 1}  # the ULR's cache key: see models
            conn.execute(update(t.subscribers).where(t.subscribers.c.id == current.id).values(bump), columns)
            return self._profile(conn, imsi)

    def delete_subscriber(self, imsi: str) -> None:
        """Remove the subscriber and every row that belongs to it (explicitly, not relying on cascades)."""
        with self.writing() as conn:
            sid = self.subscriber_id(conn, imsi)
            for table in (t.subscriber_apns, t.auth_data, t.serving_state, t.roaming_rules):
                conn.execute(delete(table).where(table.c.subscriber_id == sid))
            conn.execute(delete(t.subscribers).where(t.subscribers.c.id == sid))

    # -- helpers --------------------------------------------------------------------------------------

    @staticmethod
    def _key_values(**keys: Any) -> dict[str, bytes | None]:
        """Validate the given keys (only those given, unless one of OPc/OP is required); seal them with
        `_sealed` inside the writing transaction, under the box `sealing_box` hands out there."""
        require = keys.pop("require_one_of_opc_op", False)
        if require and (keys.get("opc") is None) == (keys.get("op") is None):
            raise InvalidValue("opc: give exactly one of opc and op")
        values: dict[str, bytes | None] = {n: v.key(n, value) for n, value in keys.items() if value is not None}
        if "opc" in values or require:
            values.setdefault("op", None)
        if "op" in values:
            values.setdefault("opc", None)
        return values

    def _sealed(self, conn: Connection, imsi: str, values: dict[str, bytes | None]) -> dict[str, bytes | None]:
        """``*_enc`` columns of `values` (None stays None, clearing the column)."""
        if not values:
            return {}
        box = self.sealing_box(conn)
        return {f"{name}_enc": box.seal(name, imsi, value) if value is not None else None
                for name, value in values.items()}

    def _resolve_apns(self, requests: Sequence[ApnRequest], create: bool) -> tuple[list[ApnProfile], list[str]]:
        profiles: list[ApnProfile] = []
        created: list[str] = []
        for request in requests:
            if create:
                profile, was_created = self.ensure_apn(request.name)
                if was_created:
                    created.append(profile.name)
            else:
                try:
                    profile = self.get_apn(request.name)
                except NotFound:
                    raise InvalidValue(f"apns: no APN profile named {request.name!r}") from None
            profiles.append(profile)
        return profiles, created

    @staticmethod
    def _write_apns(conn: Connection, sid: int, requests: Sequence[ApnRequest], profiles: Sequence[ApnProfile]) -> None:
        rows = [
            {"subscriber_id": sid, "apn_id": p.id, "context_id": i, "static_ipv4": r.static_ipv4,
             "static_ipv6": r.static_ipv6}
            for i, (r, p) in enumerate(zip(requests, profiles, strict=True), start=1)
        ]
        if rows:
            conn.execute(insert(t.subscriber_apns), rows)

    @staticmethod
    def _check_msisdn_free(conn: Connection, msisdn: str | None, imsi: str) -> None:
        if msisdn is None:
            return
        owner = conn.execute(_MSISDN_OWNER, {"msisdn": msisdn}).scalar_one_or_none()
        if owner is not None and owner != imsi:
            raise Conflict(f"MSISDN {msisdn} belongs to IMSI {owner}")

    @staticmethod
    def _profile(conn: Connection, imsi: str) -> Subscriber:
        found = _subscriber_from_join(conn.execute(_PROFILE_BY_IMSI, {"imsi": imsi}).all())
        if found is None:
            raise NotFound(f"no subscriber with IMSI {imsi}")
        return found


def prefix_match(column: ColumnElement[Any], prefix: str) -> ColumnElement[bool]:
    """Rows whose `column` starts with `prefix`, as an index range when the prefix is digits.

    ``LIKE 'p%'`` cannot use a plain B-tree index on PostgreSQL unless the database collation is C, nor on
    SQLite with an ESCAPE clause: it scans every row. Digit strings sort digit by digit in every collation,
    so the values starting with "129" are exactly those in ["129", "13").
    """
    if not prefix.isascii() or not prefix.isdigit():
        return column.startswith(prefix, autoescape=True)
    stem = prefix.rstrip("9")
    if not stem:
        return column >= prefix
    return and_(column >= prefix, column < stem[:-1] + str(int(stem[-1]) + 1))


#: Past this many holders an APN filter checks each row of the page's walk (EXISTS, one index probe a row);
#: up to it, it names the holders by id (IN). A list of the holders of an APN most subscribers hold is as
#: long as the table; a rare one's row-by-row walk crosses the whole table. Each way costs at most about
#: this many index steps (figures: docs/performance.md, "The API's APN filter").
APN_HOLDERS_LISTED = 10_000


def _apn_condition(conn: Connection, apn: str | None) -> ColumnElement[bool] | None:
    """The condition "holds ``apn``" for a subscribers query. Its holders are counted first, no further than
    `APN_HOLDERS_LISTED` + 1: a common APN is checked row by row along the page's index; a rare one's holders
    are read and named by id (a subquery instead let PostgreSQL, expecting matches early in the page's
    index, walk every subscriber to find two)."""
    if not apn:
        return None
    profile = find_apn(conn, apn)
    if profile is None:
        return false()
    held = t.subscriber_apns.c
    holders = select(held.subscriber_id).where(held.apn_id == profile.id)
    counted = conn.execute(select(func.count()).select_from(holders.limit(APN_HOLDERS_LISTED + 1).subquery()))
    if counted.scalar_one() > APN_HOLDERS_LISTED:
        return holders.where(held.subscriber_id == t.subscribers.c.id).exists()
    ids = conn.execute(holders).scalars().all()
    return t.subscribers.c.id.in_(ids) if ids else false()


def _filtered(query: Select[Any], filters: SubscriberFilter, apn: ColumnElement[bool] | None) -> Select[Any]:
    s = t.subscribers.c
    if filters.imsi_prefix:
        query = query.where(prefix_match(s.imsi, filters.imsi_prefix))
    if filters.msisdn_prefix:
        query = query.where(prefix_match(s.msisdn, filters.msisdn_prefix))
    if filters.enabled is not None:
        query = query.where(s.enabled == filters.enabled)
    if apn is not None:
        query = query.where(apn)
    return query
