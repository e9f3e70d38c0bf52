"""APN profiles: the QoS and PGW templates subscribers refer to by name."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from sigcore.store import tables as t
from sigcore.store import validate as v
from sigcore.store.base import StoreBase
from sigcore.store.errors import Conflict, InvalidValue, NotFound
from sigcore.store.records import ApnProfile, PdnType

APN_FIELDS = frozenset(
    {
        "qci", "arp_priority", "arp_preemption_capability", "arp_preemption_vulnerability", "ambr_ul",
        "ambr_dl", "pdn_type", "pgw_address", "pgw_host", "pgw_realm", "charging_characteristics",
    }
)
DEFAULT_APN_QOS: Mapping[str, Any] = {
    "qci": 9,
    "arp_priority": 8,
    "arp_preemption_capability": False,
    "arp_preemption_vulnerability": True,
    "ambr_ul": 0,
    "ambr_dl": 0,
    "pdn_type": PdnType.IPV4.value,
}
"""The profile `ensure_apn` creates: best effort (QCI 9), ARP 8, no pre-emption, pre-emptable."""

# APN names are case-insensitive (TS 23.003 §9.1): every spelling of a name finds its profile. A database
# from before may hold case variants ("Internet" beside "internet"); an exact spelling picks one of them.
_APNS_BY_NAME = select(t.apn_profiles).where(func.lower(t.apn_profiles.c.name) == func.lower(bindparam("name")))
_CREATE_APN_LOCK = 0x5A9C_0A11  # PostgreSQL advisory lock key: serialises the creators of APN profiles
_SUBSCRIBERS = t.subscribers.c
_BUMP_USERS = (
    update(t.subscribers)
    .where((_SUBSCRIBERS.default_apn_id == bindparam("apn")) | _SUBSCRIBERS.id.in_(
        select(t.subscriber_apns.c.subscriber_id).where(t.subscriber_apns.c.apn_id == bindparam("apn"))))
    .values(profile_version=_SUBSCRIBERS.profile_version + 1)
)
_APN_USERS = select(func.count()).select_from(t.subscriber_apns).where(t.subscriber_apns.c.apn_id == bindparam("id"))


def apn_from_row(row: Row[Any] | Mapping[str, Any]) -> ApnProfile:
    m = row._mapping if isinstance(row, Row) else row
    return ApnProfile(
        id=m["id"], name=m["name"], qci=m["qci"], arp_priority=m["arp_priority"],
        arp_preemption_capability=bool(m["arp_preemption_capability"]),
        arp_preemption_vulnerability=bool(m["arp_preemption_vulnerability"]),
        ambr_ul=m["ambr_ul"], ambr_dl=m["ambr_dl"], pdn_type=PdnType(m["pdn_type"]),
        pgw_address=m["pgw_address"], pgw_host=m["pgw_host"], pgw_realm=m["pgw_realm"],
        charging_characteristics=m["charging_characteristics"],
    )


def find_apn(conn: Connection, name: str) -> Row[Any] | None:
    """The profile `name` names in any case: the one spelled exactly so, else the only case variant.
    `InvalidValue` when the name matches several case variants and none exactly (which one is meant?)."""
    rows = conn.execute(_APNS_BY_NAME, {"name": name}).all()
    exact = [row for row in rows if row.name == name]
    if exact or len(rows) < 2:
        return next(iter(exact or rows), None)
    variants = " and ".join(repr(row.name) for row in sorted(rows, key=lambda r: r.name))
    raise InvalidValue(f"apn: {name!r} matches APN profiles {variants}, which differ only in case; "
                       "give one of them exactly")


def case_variants(names: Iterable[str]) -> list[list[str]]:
    """Groups of names that differ only in case (left from before lookups ignored case)."""
    groups: dict[str, list[str]] = {}
    for name in sorted(names):
        groups.setdefault(name.lower(), []).append(name)
    return [group for group in groups.values() if len(group) > 1]


def apn_columns(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Check APN profile fields and turn them into column values; unknown names are an error."""
    unknown = set(fields) - APN_FIELDS
    if unknown:
        raise InvalidValue(f"{sorted(unknown)[0]}: not a field of an APN profile")
    out = dict(fields)
    checks = {"qci": (1, 255), "arp_priority": (1, 15), "ambr_ul": (0, v.BITRATE_MAX), "ambr_dl": (0, v.BITRATE_MAX)}
    for name, (low, high) in checks.items():
        if name in out:
            v.int_range(name, out[name], low, high)
    for name in ("arp_preemption_capability", "arp_preemption_vulnerability"):
        if name in out:
            out[name] = bool(out[name])
    if "pdn_type" in out:
        out["pdn_type"] = v.choice("pdn_type", PdnType, out["pdn_type"]).value
    if out.get("pgw_address"):
        out["pgw_address"] = v.ip("pgw_address", out["pgw_address"], 6 if ":" in out["pgw_address"] else 4)
    for name in ("pgw_host", "pgw_realm"):  # DiameterIdentities in MIP-Home-Agent-Host (an FQDN, RFC 6733 §4.3.1)
        if out.get(name):
            out[name] = v.fqdn(name, out[name])
    if "charging_characteristics" in out:
        out["charging_characteristics"] = v.hex_digits("charging_characteristics", out["charging_characteristics"], 4)
    return out


class ApnRepository(StoreBase):
    def add_apn(self, name: str, **fields: Any) -> ApnProfile:
        """Create a profile; fields left out take the defaults of `DEFAULT_APN_QOS`. Conflict if it exists,
        in any case ("Internet" is the profile "internet")."""
        values = {**DEFAULT_APN_QOS, **apn_columns(fields), "name": v.new_apn_name(name)}
        try:
            with self.writing() as conn:
                if conn.dialect.name == "postgresql":
                    # the unique index compares exact spellings: two creators of "Internet" and "internet"
                    # would both pass the check below. SQLite's BEGIN IMMEDIATE and MariaDB's
                    # case-insensitive collation already keep them apart.
                    conn.execute(select(func.pg_advisory_xact_lock(_CREATE_APN_LOCK)))
                existing = find_apn(conn, values["name"])
                if existing is not None:
                    raise Conflict(f"APN profile {existing.name!r} already exists"
                                   + (f" (APN names ignore case: {name!r})" if existing.name != values["name"] else ""))
                conn.execute(insert(t.apn_profiles), values)
                return self._apn(conn, values["name"])
        except IntegrityError:
            raise Conflict(f"APN profile {name!r} already exists") from None

    def ensure_apn(self, name: str) -> tuple[ApnProfile, bool]:
        """The profile called `name`, created with the default QoS if missing; the flag says it was created.

        Safe against a concurrent creator: the loser of the insert race reads the winner's profile.
        """
        name = v.apn_name(name)
        with self.reading() as conn:
            row = find_apn(conn, name)
        if row is not None:
            return apn_from_row(row), False
        try:
            return self.add_apn(name), True
        except Conflict:
            return self.get_apn(name), False

    def get_apn(self, name: str) -> ApnProfile:
        with self.reading() as conn:
            return self._apn(conn, name)

    def list_apns(self) -> list[ApnProfile]:
        with self.reading() as conn:
            rows = conn.execute(select(t.apn_profiles).order_by(t.apn_profiles.c.name))
            return [apn_from_row(row) for row in rows]

    def update_apn(self, name: str, **changes: Any) -> ApnProfile:
        """Change a profile; every subscriber listing it gets a new ``profile_version`` in the same
        transaction, so an HSS holding their Subscription-Data (in any process) rebuilds it."""
        values = apn_columns(changes)
        with self.writing() as conn:
            profile = self._apn(conn, name)
            if values:
                conn.execute(update(t.apn_profiles).where(t.apn_profiles.c.id == profile.id), values)
                conn.execute(_BUMP_USERS, {"apn": profile.id})
            return self._apn(conn, name)

    def delete_apn(self, name: str) -> None:
        """Delete an unused profile; `Conflict` while any subscriber still lists it."""
        with self.writing() as conn:
            profile = self._apn(conn, name)
            users = conn.execute(_APN_USERS, {"id": profile.id}).scalar_one()
            defaults = conn.execute(
                select(func.count()).where(t.subscribers.c.default_apn_id == profile.id)
            ).scalar_one()
            if users or defaults:
                raise Conflict(f"APN profile {name!r} is used by {max(users, defaults)} subscriber(s)")
            conn.execute(delete(t.apn_profiles).where(t.apn_profiles.c.id == profile.id))

    def apn_case_variants(self) -> list[list[str]]:
        """Profiles whose names differ only in case, each group sorted: a database from before may hold
        them. Not merged automatically: their QoS may differ; move the subscribers and delete one."""
        with self.reading() as conn:
            return case_variants(conn.execute(select(t.apn_profiles.c.name)).scalars())

    @staticmethod
    def _apn(conn: Connection, name: str) -> ApnProfile:
        row = find_apn(conn, name)
        if row is None:
            raise NotFound(f"no APN profile named {name!r}")
        return apn_from_row(row)
