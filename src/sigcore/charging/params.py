"""Reading JSON-RPC parameters the way Go decodes them into CGrateS's structs: struct field names match
case-insensitively, unknown keys are ignored, and "missing" is an empty string, list, map or zero integer."""

from __future__ import annotations

from typing import Any

from sigcore.charging.errors import RpcError, mandatory_missing
from sigcore.charging.values import BadValue, to_bool, to_decimal

#: The largest Offset/Limit: what a database's 64-bit integer holds.
MAX_COUNT = 2**63 - 1


class Params:
    def __init__(self, raw: Any, default_tenant: str) -> None:
        if not isinstance(raw, dict):
            raise RpcError("UNSUPPORTED_FORMAT")
        self._lower = {str(k).lower(): v for k, v in raw.items()}
        self.default_tenant = default_tenant

    def get(self, *names: str) -> Any:
        """The first of `names` present (aliases: ``ActionPlanIDs``/``ActionPlanIds`` differ only in case)."""
        for name in names:
            value = self._lower.get(name.lower())
            if value is not None:
                return value
        return None

    def text(self, *names: str) -> str:
        value = self.get(*names)
        return "" if value is None else str(value).strip()

    def flag(self, name: str) -> bool:
        return to_bool(self.get(name))

    def texts(self, *names: str) -> list[str]:
        """A list of strings (a lone string is a list of one); anything else is refused, as Go's decoder does."""
        value = self.get(*names)
        if value is None:
            return []
        if isinstance(value, str):
            return [value] if value.strip() else []
        if not isinstance(value, list) or any(isinstance(v, (dict, list)) for v in value):
            raise RpcError(f"UNSUPPORTED_FORMAT:{names[0]}: expected a list of strings")
        return [str(v) for v in value if v is not None and str(v).strip()]

    def count(self, name: str) -> int:
        """A non-negative integer (``Offset``, ``Limit``); missing is 0."""
        value = self.get(name)
        if value is None or value == "":
            return 0
        if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
            value = int(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
            raise RpcError(f"UNSUPPORTED_FORMAT:{name}: expected an integer from 0 to {MAX_COUNT}")
        return value

    def mapping(self, name: str) -> dict[str, Any]:
        value = self.get(name)
        return value if isinstance(value, dict) else {}

    def number(self, name: str) -> Any:
        value = self.get(name)
        try:
            return to_decimal(value)
        except BadValue as err:
            raise RpcError(f"UNSUPPORTED_FORMAT:{err}") from None

    @property
    def tenant(self) -> str:
        return self.text("Tenant") or self.default_tenant

    def require(self, *names: str) -> None:
        missing = [n for n in names if _is_missing(self.get(n))]
        if missing:
            raise mandatory_missing(*missing)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, dict)):
        return not value
    if isinstance(value, int) and not isinstance(value, bool):
        return value == 0
    return False
