"""`ImsStore`: IMS identities, profiles, registration state and Sh data over the subscriber store's engine.

Synchronous and thread-safe like `Store`. Provisioning methods are one transaction each; the lookups the
Cx hot path uses take an optional ``conn`` so that a batch transaction (`sigcore.store.batch`) can run them,
and `registration_view` answers "IMPU, its implicit set, the IMPIs of each" in one joined query. Service
profiles (with their iFCs, shared iFC sets and capabilities) are cached per store for `PROFILE_TTL`
seconds: a change made through any `ImsStore` of this process clears the cache at once, one made by
another process (the CLI) is seen within the TTL. Tables: `sigcore.store.ims_models`; docs/ims.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from sigcore.store import psi_wildcard
from sigcore.store import tables as t
from sigcore.store.base import as_utc, insert_or_find, insert_or_update, new_id, utc_now
from sigcore.store.errors import Conflict, InvalidValue, NotFound
from sigcore.store.ims_models import (
    PROFILE_NAME_LEN,
    URI_LEN,
    ifcs,
    impis,
    impus,
    links,
    profile_capabilities,
    profile_shared_ifcs,
    profiles,
    sh_repository,
    sh_subscriptions,
)
from sigcore.store.raw import RawStatement
from sigcore.store.store import Store

SH_SEQUENCE_MAX = 65535
_V = TypeVar("_V")
PROFILE_TTL = 5.0  # seconds a cached service profile is trusted (changes by another process)


class RegState(StrEnum):
    """IMS registration state of a public identity (TS 29.228 §6.1.2, TS 29.328 IMSUserState)."""

    NOT_REGISTERED = "not_registered"
    REGISTERED = "registered"
    UNREGISTERED = "unregistered"  # an S-CSCF serves it for unregistered services
    AUTH_PENDING = "auth_pending"


class IdentityType(int):
    PUBLIC_USER = 0
    DISTINCT_PSI = 1
    WILDCARDED_PSI = 2


@dataclass(frozen=True, slots=True)
class PrivateIdentity:
    id: int
    impi: str
    imsi: str | None
    digest_realm: str | None
    digest_ha1: str | None = field(repr=False)
    roaming_allowed: bool


@dataclass(frozen=True, slots=True)
class PublicIdentity:
    id: int
    impu: str
    identity_type: int
    wildcard: str | None
    display_name: str | None
    barred: bool
    profile_id: int
    implicit_set: int
    preferred_scscf: str | None
    reg_state: RegState
    scscf_name: str | None
    scscf_host: str | None
    scscf_realm: str | None


@dataclass(frozen=True, slots=True)
class Ifc:
    priority: int
    server_name: str
    default_handling: int = 0
    service_info: str | None = None
    profile_part: int | None = None
    method: str | None = None
    session_case: int | None = None
    request_uri: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceProfile:
    id: int
    name: str
    media_profile_id: int | None
    ifcs: tuple[Ifc, ...]
    shared_ifc_sets: tuple[int, ...]
    mandatory_capabilities: tuple[int, ...]
    optional_capabilities: tuple[int, ...]
    charging: dict[str, str]  # ccf_primary, ccf_secondary, ecf_primary, ecf_secondary (those set)


@dataclass(frozen=True, slots=True)
class RepositoryData:
    service_indication: str
    sequence: int
    data: bytes


@dataclass(frozen=True, slots=True)
class ShSubscription:
    impu: str
    as_host: str
    as_realm: str
    data_reference: int
    service_indication: str
    expires_at: dt.datetime | None
    one_time: bool


class SequenceOutOfSync(Exception):
    """A PUR's Sequence-Number is not the stored one + 1 (TS 29.328 §6.1.2.1: 5105)."""


def digest_ha1(impi: str, realm: str, password: str) -> str:
    """HA1 of RFC 2617 §3.2.2.2 for algorithm MD5: the only form in which a SIP password is kept."""
    return hashlib.md5(f"{impi}:{realm}:{password}".encode()).hexdigest()


def next_sh_sequence(sequence: int) -> int:
    """TS 29.328 §7.6.1: after 65535 comes 1 (0 only marks newly created data)."""
    return 1 if sequence >= SH_SEQUENCE_MAX else sequence + 1


def _put_repository(conn: Connection, impu: PublicIdentity, service_indication: str, sequence: int,
                    data: bytes | None) -> RepositoryData | None:
    where = and_(sh_repository.c.impu_id == impu.id, sh_repository.c.service_indication == service_indication)
    row = conn.execute(select(sh_repository.c.sequence).where(where)).first()
    if row is None:
        if data is None or sequence != 0:
            raise SequenceOutOfSync(f"no data for {service_indication}: expected sequence 0")
        try:
            conn.execute(insert(sh_repository).values(impu_id=impu.id, service_indication=service_indication,
                                                      sequence=0, data=data))
        except IntegrityError:  # another AS created it since our read: this one is out of sync, as in turn
            raise SequenceOutOfSync(f"{service_indication}: created meanwhile at sequence 0") from None
        return RepositoryData(service_indication, 0, data)
    if sequence != next_sh_sequence(row.sequence):
        raise SequenceOutOfSync(f"{service_indication}: stored {row.sequence}, got {sequence}")
    # only the sequence read: another AS may have written the next one since, and is not to be overwritten
    read = and_(where, sh_repository.c.sequence == row.sequence)
    if data is None:
        done = conn.execute(delete(sh_repository).where(read))
    else:
        done = conn.execute(update(sh_repository).where(read).values(sequence=sequence, data=data))
    if not done.rowcount:
        raise SequenceOutOfSync(f"{service_indication}: changed meanwhile from {row.sequence}")
    return None if data is None else RepositoryData(service_indication, sequence, data)


def _check_uri(field_name: str, value: str) -> str:
    if not value or len(value) > URI_LEN or any(c.isspace() for c in value):
        raise InvalidValue(f"{field_name}: {value!r} is not an identity")
    return value


def _public_identity(row: Any) -> PublicIdentity:
    return PublicIdentity(row.id, row.impu, row.identity_type, row.wildcard, row.display_name, bool(row.barred),
                          row.profile_id, row.implicit_set, row.preferred_scscf, RegState(row.reg_state),
                          row.scscf_name, row.scscf_host, row.scscf_realm)


_IMPI_SELECT = select(impis, t.subscribers.c.imsi).select_from(
    impis.outerjoin(t.subscribers, impis.c.subscriber_id == t.subscribers.c.id))

_target = impus.alias("target")
# The view's columns, in the field order of `PublicIdentity` (13) then `PrivateIdentity` (6): `_view_of` reads
# them by position, so SQLite's raw cursor tuples need no named row around them.
_MEMBER_COLUMNS = (impus.c.id, impus.c.impu, impus.c.identity_type, impus.c.wildcard, impus.c.display_name,
                   impus.c.barred, impus.c.profile_id, impus.c.implicit_set, impus.c.preferred_scscf,
                   impus.c.reg_state, impus.c.scscf_name, impus.c.scscf_host, impus.c.scscf_realm)
_PRIVATE_COLUMNS = (impis.c.id.label("impi_id"), impis.c.impi.label("impi_name"), t.subscribers.c.imsi,
                    impis.c.digest_realm, impis.c.digest_ha1, impis.c.roaming_allowed)
_VIEW_COLUMNS = (*_MEMBER_COLUMNS, *_PRIVATE_COLUMNS)
_MEMBER_END = len(_MEMBER_COLUMNS)
_VIEW_FROM = (_target.join(impus, impus.c.implicit_set == _target.c.implicit_set)
              .outerjoin(links, links.c.impu_id == impus.c.id)
              .outerjoin(impis, impis.c.id == links.c.impi_id)
              .outerjoin(t.subscribers, t.subscribers.c.id == impis.c.subscriber_id))
_VIEW_SELECT = (select(*_VIEW_COLUMNS).select_from(_VIEW_FROM).where(_target.c.impu == bindparam("uri"))
                .order_by(impus.c.id, impis.c.id))
_VIEWS_SELECT = (select(*_VIEW_COLUMNS, _target.c.impu.label("target_impu")).select_from(_VIEW_FROM)
                 .where(_target.c.impu.in_(bindparam("uris", expanding=True)))
                 .order_by(_target.c.id, impus.c.id, impis.c.id))
_VIEWS_RAW = RawStatement(_VIEWS_SELECT)
_REG_STATES = {s.value: s for s in RegState}


@dataclass(frozen=True, slots=True)
class RegistrationView:
    """What a Cx request needs about one IMPU, from one query: the IMPU, its implicit set (it first) and
    the IMPIs linked to each member (creation order)."""

    impu: PublicIdentity
    members: tuple[PublicIdentity, ...]
    privates: dict[int, tuple[PrivateIdentity, ...]]

    def private(self, impi: str) -> PrivateIdentity | None:
        """``impi`` if it is linked to the IMPU itself."""
        return next((p for p in self.privates.get(self.impu.id, ()) if p.impi == impi), None)

    def impis(self) -> list[str]:
        """Every IMPI sharing the IMPU (Associated-Identities)."""
        return [p.impi for p in self.privates.get(self.impu.id, ())]


def _view_of(rows: Sequence[Sequence[Any]], uri: str) -> RegistrationView:
    """The view from the rows of `_VIEW_SELECT` (one per member and linked IMPI, ordered), read by position."""
    members: dict[int, PublicIdentity] = {}
    privates: dict[int, list[PrivateIdentity]] = {}
    impu: PublicIdentity | None = None
    for row in rows:
        member_id = row[0]
        if member_id not in members:
            member = members[member_id] = PublicIdentity(
                member_id, row[1], row[2], row[3], row[4], bool(row[5]), row[6], row[7], row[8], _REG_STATES[row[9]],
                row[10], row[11], row[12])
            if member.impu == uri:
                impu = member
        if row[_MEMBER_END] is not None:
            impi_id, name, imsi, realm, ha1, roaming = row[_MEMBER_END:_MEMBER_END + 6]
            privates.setdefault(member_id, []).append(PrivateIdentity(impi_id, name, imsi, realm, ha1, bool(roaming)))
    assert impu is not None, f"{uri} is not among the rows of its view"
    ordered = (impu, *(m for m in members.values() if m is not impu))
    return RegistrationView(impu, ordered, {k: tuple(v) for k, v in privates.items()})


class _ProfileCache:
    """Service profiles, shared iFC sets and derived documents of one store (see the module docstring)."""

    def __init__(self, ttl: float = PROFILE_TTL) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._loaded_at = time.monotonic()
        self.entries: dict[Any, Any] = {}

    def get(self, key: Any) -> Any:
        if time.monotonic() - self._loaded_at > self.ttl:
            self.clear()
        return self.entries.get(key)

    def put(self, key: Any, value: _V) -> _V:
        self.entries[key] = value
        return value

    def clear(self) -> None:
        with self._lock:
            self.entries = {}
            self._loaded_at = time.monotonic()


_CACHES: weakref.WeakKeyDictionary[Store, _ProfileCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def _cache_of(store: Store) -> _ProfileCache:
    with _CACHES_LOCK:
        found = _CACHES.get(store)
        if found is None:
            found = _CACHES[store] = _ProfileCache()
        return found


_RAW_QUERIES: dict[tuple[int, str], tuple[str, tuple[str, ...] | None]] = {}


def _raw_rows(conn: Connection, statement: Any, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Rows of a fixed SELECT run on the DB-API cursor of ``conn`` (same transaction), as plain tuples.

    The hot read of every Cx request: SQLAlchemy's execution and result machinery cost many times the
    query itself on SQLite. The statement is compiled once per dialect; it must
    have plain (not expanding) parameters and columns whose raw driver values are what the caller wants
    (booleans come back as 0/1 on SQLite: convert).
    """
    key = (id(statement), conn.dialect.name)
    query = _RAW_QUERIES.get(key)
    if query is None:
        compiled = statement.compile(dialect=conn.dialect)
        names = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
        query = _RAW_QUERIES[key] = (compiled.string, names)
    sql, names = query
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, tuple(params[n] for n in names) if names is not None else params)
        return cast(list[tuple[Any, ...]], cursor.fetchall())
    finally:
        cursor.close()


class ImsStore:
    """IMS data next to the subscribers, on the same engine (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        #: Profiles and documents derived from them, shared by every `ImsStore` of ``store``.
        self.cache = _cache_of(store)
        #: Views read ahead for the batch transaction in progress (`prefetch_views`); dropped on any write.
        self._batch_views: dict[str, RegistrationView] = {}

    @contextmanager
    def _reading(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        else:
            with self.store.reading() as own:
                yield own

    # --- provisioning --------------------------------------------------------------------------
    def ensure_profile(self, name: str = "default", **columns: Any) -> int:
        """The id of profile ``name``, created (with ``columns``) if missing."""
        with self.store.writing() as conn:
            found = self._ensure_profile(conn, name, columns)
        self.cache.clear()
        return found

    @staticmethod
    def _ensure_profile(conn: Connection, name: str, columns: dict[str, Any]) -> int:
        found = conn.execute(select(profiles.c.id).where(profiles.c.name == name)).scalar_one_or_none()
        if found is not None:
            return int(found)
        return insert_or_find(conn, profiles, profiles.c.name == name, {"name": name, **columns})[0]

    def update_profile(self, name: str, **columns: Any) -> None:
        """Change media profile or charging addresses (``ccf_primary=…``); the caller pushes a PPR."""
        with self.store.writing() as conn:
            if conn.execute(update(profiles).where(profiles.c.name == name).values(**columns)).rowcount != 1:
                raise NotFound(f"no IMS service profile {name}")
        self.cache.clear()

    def add_ifc(self, profile: str | None, ifc: Ifc, shared_set: int | None = None) -> None:
        """Add an iFC to ``profile`` or (profile None) to the shared iFC set ``shared_set``."""
        if (profile is None) == (shared_set is None):
            raise InvalidValue("profile: give a profile or a shared iFC set, not both")
        with self.store.writing() as conn:
            profile_id = self._ensure_profile(conn, profile, {}) if profile else None
            conn.execute(insert(ifcs).values(
                profile_id=profile_id, shared_set=shared_set, priority=ifc.priority, server_name=ifc.server_name,
                default_handling=ifc.default_handling, service_info=ifc.service_info,
                profile_part=ifc.profile_part, trigger_method=ifc.method, trigger_session_case=ifc.session_case,
                trigger_request_uri=ifc.request_uri))
        self.cache.clear()

    def use_shared_ifc_set(self, profile: str, shared_set: int) -> None:
        with self.store.writing() as conn:
            pid = self._ensure_profile(conn, profile, {})
            conn.execute(insert(profile_shared_ifcs).values(profile_id=pid, shared_set=shared_set))
        self.cache.clear()

    def add_capability(self, profile: str, capability: int, mandatory: bool = True) -> None:
        with self.store.writing() as conn:
            pid = self._ensure_profile(conn, profile, {})
            conn.execute(insert(profile_capabilities).values(profile_id=pid, capability=capability,
                                                             mandatory=mandatory))
        self.cache.clear()

    def add_user(
        self,
        impi: str,
        public_identities: Sequence[str],
        *,
        password: str | None = None,
        imsi: str | None = None,
        realm: str | None = None,
        profile: str = "default",
        scscf: str | None = None,
        barred: Iterable[str] = (),
        roaming_allowed: bool = False,
    ) -> PrivateIdentity:
        """One IMPI and its IMPUs as one implicit registration set (the first IMPU is the default one).

        ``password`` is turned into HA1 for ``realm`` (default: the IMPI's domain) and forgotten;
        ``imsi`` links the IMPI to that subscriber's AKA credentials. An IMPU that exists already is linked
        (a shared public identity) and keeps its set.
        """
        _check_uri("impi", impi)
        if scscf is not None:
            _check_uri("scscf", scscf)
        if not profile or len(profile) > PROFILE_NAME_LEN:
            raise InvalidValue(f"profile: a name of 1 to {PROFILE_NAME_LEN} characters")
        if not public_identities:
            raise InvalidValue("impu: at least one public identity is needed")
        twice = next((uri for n, uri in enumerate(public_identities) if uri in public_identities[:n]), None)
        if twice is not None:  # its second link broke the link table's key: an IntegrityError traceback
            raise InvalidValue(f"impu: {twice} given twice")
        if password is None and imsi is None:
            raise InvalidValue("password: give a password (SIP Digest) or an IMSI (AKA)")
        realm = realm or impi.rpartition("@")[2] or impi
        if len(realm) > URI_LEN:  # SQLite kept it, PostgreSQL and MariaDB refused the row with a traceback
            raise InvalidValue(f"realm: at most {URI_LEN} characters")
        barred_set = set(barred)
        with self.store.writing() as conn:
            if conn.execute(select(impis.c.id).where(impis.c.impi == impi)).first() is not None:
                raise Conflict(f"IMPI {impi} exists")
            subscriber_id = self.store.subscriber_id(conn, imsi) if imsi else None
            impi_id, created = insert_or_find(conn, impis, impis.c.impi == impi, dict(
                impi=impi, subscriber_id=subscriber_id, roaming_allowed=roaming_allowed,
                digest_realm=realm if password is not None else None,
                digest_ha1=digest_ha1(impi, realm, password) if password is not None else None))
            if not created:  # added by a concurrent writer since our check
                raise Conflict(f"IMPI {impi} exists")
            profile_id = self._ensure_profile(conn, profile, {})
            implicit_set: int | None = None
            for uri in public_identities:
                _check_uri("impu", uri)
                impu_id = conn.execute(select(impus.c.id).where(impus.c.impu == uri)).scalar_one_or_none()
                if impu_id is None:  # a concurrent writer's new IMPU is linked, as one that existed is
                    impu_id, created = insert_or_find(conn, impus, impus.c.impu == uri, dict(
                        impu=uri, identity_type=IdentityType.PUBLIC_USER, barred=uri in barred_set,
                        profile_id=profile_id, implicit_set=implicit_set or 0, preferred_scscf=scscf,
                        reg_state=RegState.NOT_REGISTERED.value))
                    if created and implicit_set is None:
                        implicit_set = impu_id
                        conn.execute(update(impus).where(impus.c.id == impu_id).values(implicit_set=impu_id))
                conn.execute(insert(links).values(impi_id=impi_id, impu_id=impu_id))
        return self.get_impi(impi)

    def add_psi(self, uri: str, *, profile: str = "default", wildcard: str | None = None,
                scscf: str | None = None) -> PublicIdentity:
        """A public service identity, distinct or wildcarded (``wildcard``: TS 23.003 §13.5, `psi_wildcard`)."""
        _check_uri("impu", uri)
        if wildcard is not None:
            psi_wildcard.check("wildcard", wildcard)
        with self.store.writing() as conn:
            pid = self._ensure_profile(conn, profile, {})
            kind = IdentityType.WILDCARDED_PSI if wildcard else IdentityType.DISTINCT_PSI
            row_id = new_id(conn.execute(insert(impus).values(
                impu=uri, identity_type=kind, wildcard=wildcard, profile_id=pid, implicit_set=0,
                preferred_scscf=scscf, reg_state=RegState.NOT_REGISTERED.value)))
            conn.execute(update(impus).where(impus.c.id == row_id).values(implicit_set=row_id))
        found = self.get_impu(uri)
        assert found is not None
        return found

    def set_barred(self, impu: str, barred: bool) -> None:
        with self.store.writing() as conn:
            if conn.execute(update(impus).where(impus.c.impu == impu).values(barred=barred)).rowcount != 1:
                raise NotFound(f"no IMPU {impu}")

    def delete_user(self, impi: str) -> None:
        """Remove the IMPI, and its IMPUs that no other IMPI shares."""
        with self.store.writing() as conn:
            impi_id = conn.execute(select(impis.c.id).where(impis.c.impi == impi)).scalar_one_or_none()
            if impi_id is None:
                raise NotFound(f"no IMPI {impi}")
            own = [r.impu_id for r in conn.execute(select(links.c.impu_id).where(links.c.impi_id == impi_id))]
            conn.execute(delete(links).where(links.c.impi_id == impi_id))
            shared = {r.impu_id for r in conn.execute(select(links.c.impu_id).where(links.c.impu_id.in_(own)))}
            orphans = [i for i in own if i not in shared]
            for table in (sh_repository, sh_subscriptions):
                conn.execute(delete(table).where(table.c.impu_id.in_(orphans)))
            conn.execute(delete(impus).where(impus.c.id.in_(orphans)))
            conn.execute(delete(impis).where(impis.c.id == impi_id))

    # --- lookups -------------------------------------------------------------------------------
    def get_impi(self, impi: str, conn: Connection | None = None) -> PrivateIdentity:
        with self._reading(conn) as c:
            row = c.execute(_IMPI_SELECT.where(impis.c.impi == impi)).first()
        if row is None:
            raise NotFound(f"no IMPI {impi}")
        return PrivateIdentity(row.id, row.impi, row.imsi, row.digest_realm, row.digest_ha1, row.roaming_allowed)

    def find_impi(self, impi: str, conn: Connection | None = None) -> PrivateIdentity | None:
        try:
            return self.get_impi(impi, conn)
        except NotFound:
            return None

    def prefetch_views(self, conn: Connection, uris: Sequence[str]) -> None:
        """Read the views of ``uris`` with one query (on the DB-API cursor) for the batch transaction
        ``conn``; later `registration_view(uri, conn)` calls use them until `end_batch`, except those a
        write (`set_registration`) touched. One statement for a batch costs less per identity than one per
        request even on SQLite, and saves a round trip per request on a server database."""
        grouped: dict[str, list[Any]] = {}
        for row in _VIEWS_RAW.rows(conn, {"uris": sorted(set(uris))}):
            grouped.setdefault(row[-1], []).append(row)
        self._batch_views = {uri: _view_of(rows, uri) for uri, rows in grouped.items()}

    def end_batch(self) -> None:
        self._batch_views = {}

    def registration_view(self, uri: str, conn: Connection | None = None) -> RegistrationView | None:
        """`RegistrationView` of ``uri`` (or of the wildcarded PSI matching it) in one joined query."""
        if conn is not None:
            found = self._batch_views.get(uri)
            if found is not None:
                return found
        with self._reading(conn) as c:
            rows = _raw_rows(c, _VIEW_SELECT, {"uri": uri})
            if not rows:
                psi = self._wildcard_match(c, uri)
                if psi is None:
                    return None
                rows = _raw_rows(c, _VIEW_SELECT, {"uri": psi.impu})
                uri = psi.impu
        return _view_of(rows, uri)

    @staticmethod
    def _wildcard_match(conn: Connection, uri: str) -> PublicIdentity | None:
        for w in conn.execute(select(impus).where(impus.c.identity_type == IdentityType.WILDCARDED_PSI)):
            if w.wildcard and psi_wildcard.matches(w.wildcard, uri):
                return _public_identity(w)
        return None

    def get_impu(self, uri: str, conn: Connection | None = None) -> PublicIdentity | None:
        """The public identity ``uri``, or the wildcarded PSI whose pattern matches it."""
        with self._reading(conn) as conn:
            row = conn.execute(select(impus).where(impus.c.impu == uri)).first()
            if row is not None:
                return _public_identity(row)
            return self._wildcard_match(conn, uri)

    def get_impu_by_msisdn(self, msisdn: str) -> PublicIdentity | None:
        """The tel: or sip:+MSISDN identity of a user, for Sh requests naming an MSISDN."""
        for uri in (f"tel:+{msisdn}", f"tel:{msisdn}"):
            found = self.get_impu(uri)
            if found is not None:
                return found
        with self.store.reading() as conn:
            row = conn.execute(
                select(impus).select_from(impus.join(links, links.c.impu_id == impus.c.id)
                                          .join(impis, impis.c.id == links.c.impi_id)
                                          .join(t.subscribers, t.subscribers.c.id == impis.c.subscriber_id))
                .where(t.subscribers.c.msisdn == msisdn).order_by(impus.c.id)).first()
        return _public_identity(row) if row is not None else None

    def is_linked(self, impi: PrivateIdentity, impu: PublicIdentity) -> bool:
        with self.store.reading() as conn:
            return conn.execute(select(links.c.impi_id).where(
                and_(links.c.impi_id == impi.id, links.c.impu_id == impu.id))).first() is not None

    def impus_of(self, impi: PrivateIdentity, conn: Connection | None = None) -> list[PublicIdentity]:
        with self._reading(conn) as conn:
            rows = conn.execute(select(impus).join(links, links.c.impu_id == impus.c.id)
                                .where(links.c.impi_id == impi.id).order_by(impus.c.id))
            return [_public_identity(r) for r in rows]

    def implicit_set(self, impu: PublicIdentity, conn: Connection | None = None) -> list[PublicIdentity]:
        """The IMPUs registered together with ``impu`` (itself first)."""
        with self._reading(conn) as conn:
            rows = conn.execute(select(impus).where(impus.c.implicit_set == impu.implicit_set)
                                .order_by(impus.c.id != impu.id, impus.c.id))
            return [_public_identity(r) for r in rows]

    def impis_of(self, impu: PublicIdentity, conn: Connection | None = None) -> list[str]:
        """Every IMPI sharing ``impu`` (Associated-Identities), in creation order."""
        with self._reading(conn) as conn:
            rows = conn.execute(select(impis.c.impi).join(links, links.c.impi_id == impis.c.id)
                                .where(links.c.impu_id == impu.id).order_by(impis.c.id))
            return [r.impi for r in rows]

    def msisdn_of(self, impu: PublicIdentity) -> str | None:
        with self.store.reading() as conn:
            return conn.execute(
                select(t.subscribers.c.msisdn).select_from(
                    links.join(impis, impis.c.id == links.c.impi_id)
                    .join(t.subscribers, t.subscribers.c.id == impis.c.subscriber_id))
                .where(links.c.impu_id == impu.id).limit(1)).scalar_one_or_none()

    def imsi_of(self, impu: PublicIdentity) -> str | None:
        with self.store.reading() as conn:
            return conn.execute(
                select(t.subscribers.c.imsi).select_from(
                    links.join(impis, impis.c.id == links.c.impi_id)
                    .join(t.subscribers, t.subscribers.c.id == impis.c.subscriber_id))
                .where(links.c.impu_id == impu.id).limit(1)).scalar_one_or_none()

    def profile(self, profile_id: int, conn: Connection | None = None) -> ServiceProfile:
        """The service profile (cached, see the module docstring)."""
        found: ServiceProfile | None = self.cache.get(("profile", profile_id))
        if found is not None:
            return found
        with self._reading(conn) as conn:
            p = conn.execute(select(profiles).where(profiles.c.id == profile_id)).one()
            sets = tuple(r.shared_set for r in conn.execute(
                select(profile_shared_ifcs.c.shared_set).where(profile_shared_ifcs.c.profile_id == profile_id)
                .order_by(profile_shared_ifcs.c.shared_set)))
            rows = conn.execute(select(ifcs).where(ifcs.c.profile_id == profile_id).order_by(ifcs.c.priority))
            own = tuple(Ifc(r.priority, r.server_name, r.default_handling, r.service_info, r.profile_part,
                            r.trigger_method, r.trigger_session_case, r.trigger_request_uri) for r in rows)
            caps = list(conn.execute(select(profile_capabilities)
                                     .where(profile_capabilities.c.profile_id == profile_id)
                                     .order_by(profile_capabilities.c.capability)))
        charging = {k: getattr(p, k) for k in ("ccf_primary", "ccf_secondary", "ecf_primary", "ecf_secondary")
                    if getattr(p, k)}
        return self.cache.put(("profile", profile_id), ServiceProfile(
            p.id, p.name, p.media_profile_id, own, sets, tuple(c.capability for c in caps if c.mandatory),
            tuple(c.capability for c in caps if not c.mandatory), charging))

    def shared_ifcs(self, shared_set: int, conn: Connection | None = None) -> list[Ifc]:
        """The iFCs of a shared set (cached), for Sh (the S-CSCF gets only the set's id over Cx)."""
        found: tuple[Ifc, ...] | None = self.cache.get(("shared", shared_set))
        if found is None:
            with self._reading(conn) as conn:
                rows = conn.execute(select(ifcs).where(ifcs.c.shared_set == shared_set).order_by(ifcs.c.priority))
                found = self.cache.put(("shared", shared_set), tuple(
                    Ifc(r.priority, r.server_name, r.default_handling, r.service_info, r.profile_part,
                        r.trigger_method, r.trigger_session_case, r.trigger_request_uri) for r in rows))
        return list(found)

    def registered_impus(self, scscf_host: str | None = None) -> list[PublicIdentity]:
        cond = impus.c.reg_state != RegState.NOT_REGISTERED.value
        if scscf_host is not None:
            cond = and_(cond, impus.c.scscf_host == scscf_host)
        with self.store.reading() as conn:
            return [_public_identity(r) for r in conn.execute(select(impus).where(cond).order_by(impus.c.id))]

    # --- registration state --------------------------------------------------------------------
    def set_registration(self, identities: Iterable[PublicIdentity], state: RegState, *,
                         scscf_name: str | None, scscf_host: str | None, scscf_realm: str | None,
                         conn: Connection | None = None) -> list[PublicIdentity]:
        """Write state and S-CSCF for ``identities`` (normally a whole implicit set) in one transaction.

        With ``conn`` (a transaction that read ``identities`` itself, so they are current) identities that
        hold these values already are not written: a re-registration writes nothing. Returns those written.
        """
        wanted = (state, scscf_name, scscf_host, scscf_realm)
        todo = [i for i in identities
                if conn is None or (i.reg_state, i.scscf_name, i.scscf_host, i.scscf_realm) != wanted]
        if not todo:
            return []
        if self._batch_views:  # what was read ahead about these identities is stale now
            written = {i.id for i in todo}
            self._batch_views = {uri: view for uri, view in self._batch_views.items()
                                 if written.isdisjoint(m.id for m in view.members)}
        statement = update(impus).where(impus.c.id.in_([i.id for i in todo])).values(
            reg_state=state.value, scscf_name=scscf_name, scscf_host=scscf_host, scscf_realm=scscf_realm,
            state_changed_at=utc_now())
        if conn is not None:
            conn.execute(statement)
        else:
            with self.store.writing() as own:
                own.execute(statement)
        return todo

    # --- Sh repository data and subscriptions --------------------------------------------------
    def repository_data(self, impu: PublicIdentity, service_indications: Sequence[str] = ()) -> list[RepositoryData]:
        query = select(sh_repository).where(sh_repository.c.impu_id == impu.id)
        if service_indications:
            query = query.where(sh_repository.c.service_indication.in_(list(service_indications)))
        with self.store.reading() as conn:
            rows = conn.execute(query.order_by(sh_repository.c.service_indication))
            return [RepositoryData(r.service_indication, r.sequence, bytes(r.data)) for r in rows]

    def put_repository_data(self, impu: PublicIdentity, service_indication: str, sequence: int,
                            data: bytes | None) -> RepositoryData | None:
        """Create (sequence 0), update (stored + 1) or, with ``data`` None, delete one service's data.

        Raises `SequenceOutOfSync` when ``sequence`` does not follow the stored one (TS 29.328 §6.1.2.1);
        returns what is stored afterwards (None when deleted).
        """
        return self.put_repository_updates(impu, [(service_indication, sequence, data)])[0]

    def put_repository_updates(self, impu: PublicIdentity, updates: Sequence[tuple[str, int, bytes | None]]
                               ) -> list[RepositoryData | None]:
        """Several services' data (service indication, sequence, data) in one transaction: a PUR is
        applied whole or not at all, so an AS told it failed has not had part of it written."""
        with self.store.writing() as conn:
            return [_put_repository(conn, impu, *one) for one in updates]

    def subscribe(self, sub: ShSubscription) -> None:
        impu = self.get_impu(sub.impu)
        if impu is None:
            raise NotFound(f"no IMPU {sub.impu}")
        key = and_(sh_subscriptions.c.impu_id == impu.id, sh_subscriptions.c.as_host == sub.as_host,
                   sh_subscriptions.c.data_reference == sub.data_reference,
                   sh_subscriptions.c.service_indication == sub.service_indication)
        with self.store.writing() as conn:  # the AS's latest SNR replaces its subscription to the same data
            insert_or_update(conn, sh_subscriptions, key, dict(
                impu_id=impu.id, as_host=sub.as_host, as_realm=sub.as_realm, data_reference=sub.data_reference,
                service_indication=sub.service_indication, expires_at=sub.expires_at, one_time=sub.one_time))

    def unsubscribe(self, impu: PublicIdentity, as_host: str, data_reference: int,
                    service_indication: str = "") -> bool:
        with self.store.writing() as conn:
            return bool(conn.execute(delete(sh_subscriptions).where(and_(
                sh_subscriptions.c.impu_id == impu.id, sh_subscriptions.c.as_host == as_host,
                sh_subscriptions.c.data_reference == data_reference,
                sh_subscriptions.c.service_indication == service_indication))).rowcount)

    def subscriptions(self, impu: PublicIdentity, data_reference: int,
                      service_indication: str | None = None) -> list[ShSubscription]:
        """Live subscriptions to ``data_reference`` of ``impu``; expired ones are deleted on the way.

        Every registration change from a SAR asks this for each IMPU of the set: the usual answer (nobody
        subscribed) comes from a plain read, so it never queues for the write lock the Cx batches hold."""
        now = utc_now()
        cond = and_(sh_subscriptions.c.impu_id == impu.id, sh_subscriptions.c.data_reference == data_reference)
        if service_indication is not None:
            cond = and_(cond, or_(sh_subscriptions.c.service_indication == service_indication,
                                  sh_subscriptions.c.service_indication == ""))
        with self.store.reading() as conn:
            if conn.execute(select(sh_subscriptions.c.id).where(cond).limit(1)).first() is None:
                return []
        with self.store.writing() as conn:
            rows = list(conn.execute(select(sh_subscriptions).where(cond).order_by(sh_subscriptions.c.id)))
            expired = [r.id for r in rows if r.expires_at is not None and as_utc(r.expires_at) <= now]  # type: ignore[operator]
            if expired:
                conn.execute(delete(sh_subscriptions).where(sh_subscriptions.c.id.in_(expired)))
            once = [r.id for r in rows if r.one_time and r.id not in expired]
            if once:
                conn.execute(delete(sh_subscriptions).where(sh_subscriptions.c.id.in_(once)))
        return [ShSubscription(impu.impu, r.as_host, r.as_realm, r.data_reference, r.service_indication,
                               as_utc(r.expires_at), r.one_time) for r in rows if r.id not in expired]
