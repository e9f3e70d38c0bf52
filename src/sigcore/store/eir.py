"""EIR data: equipment rules (exact IMEI or IMEI prefix/TAC, optionally bound to an IMSI) and the history
of ME identity checks.

The store only keeps and finds rules; which candidate wins is the business rule of `sigcore.hss.s13.eir`.
`EirRepository.candidates(imei, imsi)` returns every rule that *could* apply to one check in one indexed
query: the patterns it asks for are the 14 prefixes of the IMEI, so no LIKE and no dialect-specific SQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, or_, select

from sigcore.store import validate as v
from sigcore.store.base import StoreBase, as_utc, new_id, utc_now
from sigcore.store.eir_models import IMEI_DIGITS, eir_history, eir_rules
from sigcore.store.errors import Conflict, InvalidValue, NotFound


class EquipmentStatus(StrEnum):
    """Equipment-Status of TS 29.272 §7.3.51; `code` is the value on the wire."""

    WHITELISTED = "whitelisted"
    BLACKLISTED = "blacklisted"
    GREYLISTED = "greylisted"

    @property
    def code(self) -> int:
        return _STATUS_CODES[self]

    @classmethod
    def from_code(cls, code: int) -> EquipmentStatus:
        return _STATUS_BY_CODE[code]


_STATUS_CODES = {EquipmentStatus.WHITELISTED: 0, EquipmentStatus.BLACKLISTED: 1, EquipmentStatus.GREYLISTED: 2}
_STATUS_BY_CODE = {code: status for status, code in _STATUS_CODES.items()}


_CANDIDATES = select(eir_rules).where(
    eir_rules.c.pattern.in_(bindparam("patterns", expanding=True)),
    or_(eir_rules.c.imsi.is_(None), eir_rules.c.imsi == bindparam("imsi")),
)


@dataclass(frozen=True, slots=True)
class EirRule:
    id: int
    pattern: str
    exact: bool
    imsi: str | None
    status: EquipmentStatus
    comment: str | None = None
    created_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class EirCheck:
    id: int
    checked_at: dt.datetime | None
    imei: str
    software_version: str | None
    imsi: str | None
    status: EquipmentStatus | None
    rule_id: int | None
    origin_host: str | None


def _rule(m: Any) -> EirRule:
    return EirRule(m["id"], m["pattern"], bool(m["exact"]), m["imsi"], EquipmentStatus(m["status"]), m["comment"],
                   as_utc(m["created_at"]))


def _check(m: Any) -> EirCheck:
    status = EquipmentStatus(m["status"]) if m["status"] else None
    return EirCheck(m["id"], as_utc(m["checked_at"]), m["imei"], m["software_version"], m["imsi"], status,
                    m["rule_id"], m["origin_host"])


def imei_digits(field: str, value: str, exact: bool) -> str:
    """A 14-digit IMEI (exact) or a 1-14 digit prefix of one; the check digit is the caller's business."""
    return v.digits(field, value, IMEI_DIGITS if exact else 1, IMEI_DIGITS)


class EirRepository:
    """EIR rules and check history in the subscriber store's database (see the module docstring)."""

    def __init__(self, store: StoreBase) -> None:
        self.store = store

    def add_rule(self, pattern: str, status: EquipmentStatus | str, *, exact: bool, imsi: str | None = None,
                 comment: str | None = None) -> EirRule:
        """A new rule; `Conflict` if one with the same pattern, kind and IMSI binding exists."""
        pattern = imei_digits("imei" if exact else "prefix", pattern, exact)
        chosen = v.choice("status", EquipmentStatus, str(status))
        imsi = None if imsi in (None, "") else v.imsi(str(imsi))
        if comment is not None and len(comment) > 255:
            raise InvalidValue("comment: at most 255 characters")
        if comment is not None and not comment.isprintable():  # a newline split `eir list` and the audit line
            raise InvalidValue("comment: printable characters only (no newlines or other control characters)")
        same = select(eir_rules.c.id).where(eir_rules.c.pattern == pattern, eir_rules.c.exact == exact,
                                           eir_rules.c.imsi.is_(None) if imsi is None else eir_rules.c.imsi == imsi)
        values = {"pattern": pattern, "exact": exact, "imsi": imsi, "status": chosen.value, "comment": comment,
                  "created_at": utc_now()}
        with self.store.writing() as conn:
            # the first: two adds at once may both have passed this check (no unique key covers a NULL IMSI)
            existing = conn.execute(same.order_by(eir_rules.c.id).limit(1)).scalar_one_or_none()
            if existing is not None:
                raise Conflict(f"rule {existing} already covers {'IMEI' if exact else 'prefix'} {pattern}"
                               + (f" with IMSI {imsi}" if imsi else ""))
            rule_id = new_id(conn.execute(insert(eir_rules), values))
        return EirRule(rule_id, pattern, exact, imsi, chosen, comment, values["created_at"])  # type: ignore[arg-type]

    def get_rule(self, rule_id: int) -> EirRule:
        with self.store.reading() as conn:
            row = conn.execute(select(eir_rules).where(eir_rules.c.id == rule_id)).first()
        if row is None:
            raise NotFound(f"no EIR rule {rule_id}")
        return _rule(row._mapping)

    def list_rules(self, offset: int = 0, limit: int = 1000) -> list[EirRule]:
        query = (select(eir_rules).order_by(eir_rules.c.pattern, eir_rules.c.id)
                 .offset(max(offset, 0)).limit(max(min(limit, 10_000), 0)))
        with self.store.reading() as conn:
            return [_rule(r._mapping) for r in conn.execute(query)]

    def delete_rule(self, rule_id: int) -> None:
        with self.store.writing() as conn:
            done = conn.execute(delete(eir_rules).where(eir_rules.c.id == rule_id))
        if done.rowcount != 1:
            raise NotFound(f"no EIR rule {rule_id}")

    def candidates(self, imei: str, imsi: str | None) -> list[EirRule]:
        """Every rule that matches `imei` (exactly or by prefix) and is unbound or bound to `imsi`."""
        imei = imei_digits("imei", imei, exact=True)
        patterns = [imei[:n] for n in range(1, IMEI_DIGITS + 1)]
        with self.store.reading() as conn:
            rows = conn.execute(_CANDIDATES, {"patterns": patterns, "imsi": imsi or ""}).all()
        return [_rule(row._mapping) for row in rows]

    # -- history --------------------------------------------------------------------------------------

    def record_check(self, imei: str, *, software_version: str | None, imsi: str | None,
                     status: EquipmentStatus | None, rule_id: int | None, origin_host: str | None) -> None:
        values = {"checked_at": utc_now(), "imei": imei, "software_version": software_version, "imsi": imsi,
                  "status": status.value if status else None, "rule_id": rule_id,
                  "origin_host": origin_host[:255] if origin_host else None}
        with self.store.writing() as conn:
            conn.execute(insert(eir_history), values)

    def history(self, imei: str | None = None, offset: int = 0, limit: int = 100) -> tuple[list[EirCheck], int]:
        """A page of checks, newest first, and the total matching count."""
        query = select(eir_history)
        if imei:
            query = query.where(eir_history.c.imei == imei)
        count = select(func.count()).select_from(query.subquery())
        page = query.order_by(eir_history.c.id.desc()).offset(max(offset, 0)).limit(max(min(limit, 1000), 0))
        with self.store.reading() as conn:
            total = int(conn.execute(count).scalar_one())
            return [_check(r._mapping) for r in conn.execute(page)], total
