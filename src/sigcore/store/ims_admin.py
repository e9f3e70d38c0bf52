"""`ImsAdmin`: what the provisioning API needs of the IMS tables beyond the HSS's own `ImsStore` methods.

Pages with totals, exact (non-wildcard) lookups, public identities and service profiles as resources of
their own (create, change, delete) and the views the API answers with (an IMPU with its profile name,
implicit set and IMPIs). The tables and what they mean are `ImsStore`'s; nothing here changes them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from sigcore.store import psi_wildcard
from sigcore.store import tables as t
from sigcore.store.base import new_id
from sigcore.store.errors import Conflict, InvalidValue, NotFound
from sigcore.store.ims import (
    _IMPI_SELECT,
    IdentityType,
    Ifc,
    ImsStore,
    PrivateIdentity,
    PublicIdentity,
    RegState,
    ServiceProfile,
    _check_uri,
    _public_identity,
)
from sigcore.store.ims_models import ifcs, impis, impus, links, profile_capabilities, profile_shared_ifcs, profiles

CHARGING_COLUMNS = ("ccf_primary", "ccf_secondary", "ecf_primary", "ecf_secondary")
PROFILE_COLUMNS = frozenset({"media_profile_id", *CHARGING_COLUMNS})
DEFAULT_PROFILE = "default"
SERVED_STATES = (RegState.REGISTERED.value, RegState.UNREGISTERED.value)


@dataclass(frozen=True, slots=True)
class PublicIdentityView:
    """An IMPU as the API shows it: the identity, its profile's name, its implicit set and its IMPIs."""

    identity: PublicIdentity
    service_profile: str
    implicit_set: tuple[str, ...]
    private_identities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ProfileParts:
    """The lists of a service profile that a write replaces as a whole (None: leave as is)."""

    ifcs: Sequence[Ifc] | None = None
    shared_ifc_sets: Sequence[int] | None = None
    mandatory_capabilities: Sequence[int] | None = None
    optional_capabilities: Sequence[int] | None = None


def _private_identity(row: Any) -> PrivateIdentity:
    return PrivateIdentity(row.id, row.impi, row.imsi, row.digest_realm, row.digest_ha1, row.roaming_allowed)


def _page(conn: Connection, query: Select[Any], order: Any, offset: int, limit: int) -> tuple[list[Any], int]:
    total = int(conn.execute(select(func.count()).select_from(query.subquery())).scalar_one())
    return list(conn.execute(query.order_by(order).offset(offset).limit(limit))), total


def _prefix(column: Any, prefix: str) -> Any:
    """``column`` starts with ``prefix``, without LIKE (whose wildcards a prefix may contain)."""
    return func.substr(column, 1, len(prefix)) == prefix


class ImsAdmin(ImsStore):
    """Provisioning of IMS identities and service profiles (see the module docstring)."""

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A write transaction where a unique-key race that passed our checks is a `Conflict`, not a crash.

        Afterwards the store's cache of profiles (and documents built from them) is cleared, as `ImsStore`'s
        own writes do; ``getattr`` because that cache is newer than this module's first version.
        """
        try:
            with self.store.writing() as conn:
                yield conn
        except IntegrityError as err:
            raise Conflict(f"a concurrent change took the same name ({type(err.orig).__name__})") from None
        finally:
            cache = getattr(self, "cache", None)
            if cache is not None:
                cache.clear()

    # --- private identities --------------------------------------------------------------------
    def page_impis(self, offset: int, limit: int, *, prefix: str | None = None,
                   imsi: str | None = None) -> tuple[list[PrivateIdentity], int]:
        query = _IMPI_SELECT
        if prefix:
            query = query.where(_prefix(impis.c.impi, prefix))
        if imsi:
            query = query.where(t.subscribers.c.imsi == imsi)
        with self.store.reading() as conn:
            rows, total = _page(conn, query, impis.c.impi, offset, limit)
        return [_private_identity(r) for r in rows], total

    def add_private_identity(self, impi: str, public_identities: Sequence[str], *, imsi: str | None,
                             profile: str, **options: Any) -> PrivateIdentity:
        """`ImsStore.add_user`, where an unknown IMSI or profile is a bad value (422), not a missing resource,
        and a profile is never created by a typo (only ``default`` is created on demand)."""
        with self.store.reading() as conn:
            if imsi is not None and conn.execute(select(t.subscribers.c.id).where(
                    t.subscribers.c.imsi == imsi)).first() is None:
                raise InvalidValue(f"imsi: no subscriber with IMSI {imsi}")
            if profile != DEFAULT_PROFILE and conn.execute(select(profiles.c.id).where(
                    profiles.c.name == profile)).first() is None:
                raise InvalidValue(f"service_profile: no IMS service profile {profile}")
        try:
            return self.add_user(impi, public_identities, imsi=imsi, profile=profile, **options)
        except IntegrityError as err:
            raise Conflict(f"a concurrent change took the same name ({type(err.orig).__name__})") from None

    def public_uris_of(self, impi_ids: Sequence[int]) -> dict[int, list[str]]:
        """The IMPU URIs of each IMPI in ``impi_ids``, in creation order."""
        found: dict[int, list[str]] = {i: [] for i in impi_ids}
        with self.store.reading() as conn:
            for row in conn.execute(select(links.c.impi_id, impus.c.impu).join(impus, impus.c.id == links.c.impu_id)
                                    .where(links.c.impi_id.in_(list(impi_ids))).order_by(impus.c.id)):
                found[row.impi_id].append(row.impu)
        return found

    # --- public identities ---------------------------------------------------------------------
    def public_identity(self, uri: str) -> PublicIdentity:
        """The IMPU or PSI stored under exactly ``uri`` (no wildcard matching, unlike `get_impu`)."""
        with self.store.reading() as conn:
            row = conn.execute(select(impus).where(impus.c.impu == uri)).first()
        if row is None:
            raise NotFound(f"no public identity {uri}")
        return _public_identity(row)

    def page_impus(self, offset: int, limit: int, *, prefix: str | None = None, impi: str | None = None,
                   reg_state: RegState | None = None, profile: str | None = None,
                   barred: bool | None = None) -> tuple[list[PublicIdentity], int]:
        query = select(impus)
        if prefix:
            query = query.where(_prefix(impus.c.impu, prefix))
        if impi:
            query = query.where(impus.c.id.in_(select(links.c.impu_id).join(impis, impis.c.id == links.c.impi_id)
                                               .where(impis.c.impi == impi)))
        if reg_state is not None:
            query = query.where(impus.c.reg_state == reg_state.value)
        if profile:
            query = query.where(impus.c.profile_id.in_(select(profiles.c.id).where(profiles.c.name == profile)))
        if barred is not None:
            query = query.where(impus.c.barred == barred)
        with self.store.reading() as conn:
            rows, total = _page(conn, query, impus.c.impu, offset, limit)
        return [_public_identity(r) for r in rows], total

    def views(self, identities: Sequence[PublicIdentity]) -> list[PublicIdentityView]:
        """`PublicIdentityView`s of ``identities`` in three queries, whatever their number."""
        ids = [i.id for i in identities]
        sets = {i.implicit_set for i in identities}
        with self.store.reading() as conn:
            names = {r.id: r.name for r in conn.execute(select(profiles.c.id, profiles.c.name).where(
                profiles.c.id.in_({i.profile_id for i in identities})))}
            members: dict[int, list[str]] = {s: [] for s in sets}
            for r in conn.execute(select(impus.c.implicit_set, impus.c.impu)
                                  .where(impus.c.implicit_set.in_(sets)).order_by(impus.c.id)):
                members[r.implicit_set].append(r.impu)
            private: dict[int, list[str]] = {i: [] for i in ids}
            for r in conn.execute(select(links.c.impu_id, impis.c.impi).join(impis, impis.c.id == links.c.impi_id)
                                  .where(links.c.impu_id.in_(ids)).order_by(impis.c.id)):
                private[r.impu_id].append(r.impi)
        return [PublicIdentityView(i, names[i.profile_id], tuple(members[i.implicit_set]), tuple(private[i.id]))
                for i in identities]

    def view(self, uri: str) -> PublicIdentityView:
        return self.views([self.public_identity(uri)])[0]

    def add_public_identity(self, uri: str, *, private_identities: Sequence[str], kind: int = IdentityType.PUBLIC_USER,
                            wildcard: str | None = None, profile: str = "default", implicit_set_with: str | None = None,
                            display_name: str | None = None, barred: bool = False,
                            preferred_scscf: str | None = None) -> PublicIdentityView:
        """A new IMPU linked to existing IMPIs, or a PSI (which may have none); joins ``implicit_set_with``'s set."""
        _check_uri("impu", uri)
        if kind == IdentityType.PUBLIC_USER and not private_identities:
            raise InvalidValue("private_identities: a public user identity belongs to at least one IMPI")
        if kind == IdentityType.WILDCARDED_PSI and wildcard is None:
            wildcard = uri  # the PSI written as TS 23.003 §13.5 has it: sip:conf-!.*!@example.org
        if (kind == IdentityType.WILDCARDED_PSI) != (wildcard is not None):
            raise InvalidValue("wildcard: only a wildcarded PSI has a pattern")
        _check_pattern(wildcard)
        with self._writing() as conn:
            if conn.execute(select(impus.c.id).where(impus.c.impu == uri)).first() is not None:
                raise Conflict(f"public identity {uri} exists")
            impi_ids = _impi_ids(conn, private_identities)
            row_id = new_id(conn.execute(insert(impus).values(
                impu=uri, identity_type=kind, wildcard=wildcard, display_name=display_name, barred=barred,
                profile_id=_profile_id(conn, profile), implicit_set=0, preferred_scscf=preferred_scscf,
                reg_state=RegState.NOT_REGISTERED.value)))
            for impi_id in impi_ids:
                conn.execute(insert(links).values(impi_id=impi_id, impu_id=row_id))
            implicit_set = _joinable_set(conn, row_id, implicit_set_with) if implicit_set_with else row_id
            conn.execute(update(impus).where(impus.c.id == row_id).values(implicit_set=implicit_set))
        return self.view(uri)

    def update_public_identity(self, uri: str, changes: dict[str, Any]) -> PublicIdentityView:
        """Change ``display_name``, ``barred``, ``preferred_scscf``, ``service_profile`` (a name) or
        ``implicit_set_with`` (another IMPU whose set to join; the IMPU's own URI: a set of its own)."""
        with self._writing() as conn:
            row = conn.execute(select(impus).where(impus.c.impu == uri)).first()
            if row is None:
                raise NotFound(f"no public identity {uri}")
            plain = ("display_name", "barred", "preferred_scscf")
            values: dict[str, Any] = {k: changes[k] for k in plain if k in changes}
            if "service_profile" in changes:
                values["profile_id"] = _profile_id(conn, changes["service_profile"])
            if "implicit_set_with" in changes:
                if row.reg_state != RegState.NOT_REGISTERED.value:
                    raise Conflict(f"{uri} is {row.reg_state}: deregister it before changing its implicit set")
                target = changes["implicit_set_with"]
                values["implicit_set"] = row.id if target == uri else _joinable_set(conn, row.id, target)
            if values:
                conn.execute(update(impus).where(impus.c.id == row.id).values(**values))
        return self.view(uri)

    def delete_public_identity(self, uri: str) -> None:
        """Delete an IMPU that is not registered and is not the last one of an IMPI (`Conflict` otherwise)."""
        with self._writing() as conn:
            row = conn.execute(select(impus).where(impus.c.impu == uri)).first()
            if row is None:
                raise NotFound(f"no public identity {uri}")
            if row.reg_state != RegState.NOT_REGISTERED.value:
                raise Conflict(f"{uri} is {row.reg_state}: deregister it first")
            owners = [r.impi_id for r in conn.execute(select(links.c.impi_id).where(links.c.impu_id == row.id))]
            counts = conn.execute(select(links.c.impi_id, func.count()).where(links.c.impi_id.in_(owners))
                                  .group_by(links.c.impi_id))
            if any(n == 1 for _, n in counts):
                raise Conflict(f"{uri} is the last public identity of an IMPI: delete the IMPI instead")
            conn.execute(delete(impus).where(impus.c.id == row.id))  # links, Sh data: ON DELETE CASCADE
            if row.implicit_set == row.id:  # the set was named after this IMPU: renumber the rest
                rest = conn.execute(select(func.min(impus.c.id)).where(impus.c.implicit_set == row.id)).scalar()
                if rest is not None:
                    conn.execute(update(impus).where(impus.c.implicit_set == row.id).values(implicit_set=rest))

    def served_impis(self, *, impu: PublicIdentity | None = None, profile_id: int | None = None) -> list[str]:
        """IMPIs with a public identity (``impu``'s implicit set, or those using ``profile_id``) at an S-CSCF."""
        cond: ColumnElement[bool] = impus.c.reg_state.in_(SERVED_STATES)
        if impu is not None:
            cond = and_(cond, impus.c.implicit_set == impu.implicit_set)
        if profile_id is not None:
            cond = and_(cond, impus.c.profile_id == profile_id)
        with self.store.reading() as conn:
            rows = conn.execute(select(impis.c.impi).distinct().select_from(
                links.join(impis, impis.c.id == links.c.impi_id).join(impus, impus.c.id == links.c.impu_id))
                .where(cond).order_by(impis.c.impi))
            return [r.impi for r in rows]

    # --- service profiles ----------------------------------------------------------------------
    def page_profiles(self, offset: int, limit: int, prefix: str | None = None) -> tuple[list[ServiceProfile], int]:
        query = select(profiles.c.id)
        if prefix:
            query = query.where(_prefix(profiles.c.name, prefix))
        with self.store.reading() as conn:
            rows, total = _page(conn, query, profiles.c.name, offset, limit)
        return [self.profile(r.id) for r in rows], total

    def profile_named(self, name: str) -> ServiceProfile:
        with self.store.reading() as conn:
            found = conn.execute(select(profiles.c.id).where(profiles.c.name == name)).scalar_one_or_none()
        if found is None:
            raise NotFound(f"no IMS service profile {name}")
        return self.profile(int(found))

    def create_profile(self, name: str, columns: dict[str, Any], parts: ProfileParts) -> ServiceProfile:
        with self._writing() as conn:
            if conn.execute(select(profiles.c.id).where(profiles.c.name == name)).first() is not None:
                raise Conflict(f"IMS service profile {name} exists")
            profile_id = new_id(conn.execute(insert(profiles).values(name=name, **_profile_columns(columns))))
            _replace_parts(conn, profile_id, parts)
        return self.profile(profile_id)

    def change_profile(self, name: str, columns: dict[str, Any], parts: ProfileParts) -> ServiceProfile:
        """Change columns; each list given in ``parts`` replaces the stored one."""
        with self._writing() as conn:
            profile_id = conn.execute(select(profiles.c.id).where(profiles.c.name == name)).scalar_one_or_none()
            if profile_id is None:
                raise NotFound(f"no IMS service profile {name}")
            if columns:
                conn.execute(update(profiles).where(profiles.c.id == profile_id).values(**_profile_columns(columns)))
            _replace_parts(conn, profile_id, parts)
        return self.profile(profile_id)

    def delete_profile(self, name: str) -> None:
        with self._writing() as conn:
            profile_id = conn.execute(select(profiles.c.id).where(profiles.c.name == name)).scalar_one_or_none()
            if profile_id is None:
                raise NotFound(f"no IMS service profile {name}")
            users = conn.execute(select(func.count()).where(impus.c.profile_id == profile_id)).scalar_one()
            if users:
                raise Conflict(f"IMS service profile {name} is used by {users} public identities")
            conn.execute(delete(profiles).where(profiles.c.id == profile_id))  # iFCs etc.: ON DELETE CASCADE


def _check_pattern(wildcard: str | None) -> None:
    if wildcard is not None:
        psi_wildcard.check("wildcard", wildcard)


def _profile_columns(columns: dict[str, Any]) -> dict[str, Any]:
    unknown = set(columns) - PROFILE_COLUMNS
    if unknown:
        raise InvalidValue(f"{sorted(unknown)[0]}: not a service profile column")
    return columns


def _profile_id(conn: Connection, name: str) -> int:
    """The id of an existing profile; only ``default`` is created on demand (as `ImsStore.add_user` does)."""
    if name == DEFAULT_PROFILE:
        return ImsStore._ensure_profile(conn, name, {})
    found = conn.execute(select(profiles.c.id).where(profiles.c.name == name)).scalar_one_or_none()
    if found is None:
        raise InvalidValue(f"service_profile: no IMS service profile {name}")
    return int(found)


def _impi_ids(conn: Connection, names: Sequence[str]) -> list[int]:
    rows = {r.impi: r.id for r in conn.execute(select(impis.c.impi, impis.c.id).where(impis.c.impi.in_(names)))}
    missing = [n for n in names if n not in rows]
    if missing:
        raise InvalidValue(f"private_identities: no IMPI {missing[0]}")
    return [rows[n] for n in dict.fromkeys(names)]


def _joinable_set(conn: Connection, impu_id: int, other_uri: str) -> int:
    """The implicit set of ``other_uri``, if the IMPU ``impu_id`` may join it (TS 23.228 §4.3.3.3:
    every IMPU of a set belongs to the same IMPIs, and a registered set is not changed)."""
    other = conn.execute(select(impus).where(impus.c.impu == other_uri)).first()
    if other is None:
        raise InvalidValue(f"implicit_set_with: no public identity {other_uri}")
    if other.reg_state != RegState.NOT_REGISTERED.value:
        raise Conflict(f"{other_uri} is {other.reg_state}: its implicit set cannot change now")

    def owners(row_id: int) -> set[int]:
        return {r.impi_id for r in conn.execute(select(links.c.impi_id).where(links.c.impu_id == row_id))}

    if owners(impu_id) != owners(other.id):
        raise InvalidValue("implicit_set_with: the identities of a set must belong to the same IMPIs")
    return int(other.implicit_set)


def _replace_parts(conn: Connection, profile_id: int, parts: ProfileParts) -> None:
    if parts.ifcs is not None:
        conn.execute(delete(ifcs).where(ifcs.c.profile_id == profile_id))
        for ifc in parts.ifcs:
            conn.execute(insert(ifcs).values(
                profile_id=profile_id, shared_set=None, priority=ifc.priority, server_name=ifc.server_name,
                default_handling=ifc.default_handling, service_info=ifc.service_info, profile_part=ifc.profile_part,
                trigger_method=ifc.method, trigger_session_case=ifc.session_case, trigger_request_uri=ifc.request_uri))
    if parts.shared_ifc_sets is not None:
        conn.execute(delete(profile_shared_ifcs).where(profile_shared_ifcs.c.profile_id == profile_id))
        for shared in dict.fromkeys(parts.shared_ifc_sets):
            conn.execute(insert(profile_shared_ifcs).values(profile_id=profile_id, shared_set=shared))
    mandatory, optional = parts.mandatory_capabilities, parts.optional_capabilities
    if mandatory is not None or optional is not None:
        replaced = [m for m, given in ((True, mandatory), (False, optional)) if given is not None]
        conn.execute(delete(profile_capabilities).where(profile_capabilities.c.profile_id == profile_id,
                                                        profile_capabilities.c.mandatory.in_(replaced)))
        kept = set(conn.execute(select(profile_capabilities.c.capability)
                                .where(profile_capabilities.c.profile_id == profile_id)).scalars())
        if kept & set(mandatory or ()) | kept & set(optional or ()) | set(mandatory or ()) & set(optional or ()):
            raise InvalidValue("capabilities: a capability is either mandatory or optional, not both")
        for flag, given in ((True, mandatory), (False, optional)):
            for capability in dict.fromkeys(given or ()):
                conn.execute(insert(profile_capabilities).values(profile_id=profile_id, capability=capability,
                                                                 mandatory=flag))
