"""Reading JSON-RPC parameters the way Go decodes them into CGrateS's structs: struct field names match
case-insensitively, unknown keys are ignored, and "missing" is an empty string, list, map or zero integer."""

from __future__ import annotations

from typing import Any

from sigcore.charging.errors import RpcError, mandatory_missing
from sigcore.charging.values import BadValue, to_bool, to_decimal


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
        value = self.get(*names)
        if value is None:
            return []
        if isinstance(value, str):
            return [value] if value.strip() else []
        return [str(v) for v in value if str(v).strip()]

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
