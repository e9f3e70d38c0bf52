"""`EirAdmin`: what the provisioning API needs of the EIR tables beyond `EirRepository`.

Filtered pages of rules with their total, and changing a rule's status or comment in place (the rule
keeps its id, so the check history that names it stays meaningful).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from sigcore.store import validate as v
from sigcore.store.eir import EirRepository, EirRule, EquipmentStatus, _rule
from sigcore.store.eir_models import eir_rules
from sigcore.store.errors import InvalidValue, NotFound

COMMENT_LEN = 255


class EirAdmin(EirRepository):
    def page_rules(self, offset: int, limit: int, *, status: EquipmentStatus | None = None, imsi: str | None = None,
                   exact: bool | None = None, matching: str | None = None) -> tuple[list[EirRule], int]:
        """Rules ordered by pattern; ``matching``: only those whose pattern starts with these digits."""
        query = select(eir_rules)
        if status is not None:
            query = query.where(eir_rules.c.status == status.value)
        if imsi:
            query = query.where(eir_rules.c.imsi == imsi)
        if exact is not None:
            query = query.where(eir_rules.c.exact == exact)
        if matching:
            query = query.where(func.substr(eir_rules.c.pattern, 1, len(matching)) == matching)
        count = select(func.count()).select_from(query.subquery())
        page = query.order_by(eir_rules.c.pattern, eir_rules.c.id).offset(offset).limit(limit)
        with self.store.reading() as conn:
            total = int(conn.execute(count).scalar_one())
            return [_rule(r._mapping) for r in conn.execute(page)], total

    def change_rule(self, rule_id: int, *, status: EquipmentStatus | str | None = None,
                    comment: str | None = None, clear_comment: bool = False) -> EirRule:
        values: dict[str, Any] = {}
        if status is not None:
            values["status"] = v.choice("status", EquipmentStatus, str(status)).value
        if comment is not None:
            if len(comment) > COMMENT_LEN:
                raise InvalidValue(f"comment: at most {COMMENT_LEN} characters")
            if not comment.isprintable():  # as `add_rule`: one rule, one line in `eir list`
                raise InvalidValue("comment: printable characters only (no newlines or other control characters)")
            values["comment"] = comment
        elif clear_comment:
            values["comment"] = None
        if values:
            with self.store.writing() as conn:
                if conn.execute(update(eir_rules).where(eir_rules.c.id == rule_id).values(**values)).rowcount != 1:
                    raise NotFound(f"no EIR rule {rule_id}")
        return self.get_rule(rule_id)
