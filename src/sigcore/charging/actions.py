"""Action definitions (what SetActions stores) and their parsing from CGrateS's v1/v2 JSON shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sigcore.charging.values import BadValue, string_set, to_bool, to_decimal

#: Actions that change a balance's value; *cdrlog writes one CDR for each of them in the same set.
BALANCE_CHANGING = frozenset({"*topup", "*topup_reset", "*debit", "*debit_reset", "*set_balance",
                              "*topup_zero_negative"})
KNOWN = BALANCE_CHANGING | frozenset({
    "*remove_balance", "*reset_account", "*remove_expired", "*cdrlog", "*log", "*http_post", "*http_post_async",
    "*enable_account", "*disable_account", "*allow_negative", "*deny_negative", "*remove_account",
    "*reset_triggers", "*set_recurrent", "*unset_recurrent", "*reset_counters", "*set_expiry",
})


class ActionError(ValueError):
    """A bad action definition; `str()` is the CGrateS error string."""


@dataclass
class BalanceFilter:
    """The balance an action addresses (or creates): None = "not given", which matches anything."""

    type: str = ""
    uuid: str = ""
    id: str = ""
    value: Decimal | None = None
    expiry: str = ""
    weight: float | None = None
    blocker: bool | None = None
    disabled: bool | None = None
    destination_ids: dict[str, bool] | None = None
    categories: dict[str, bool] | None = None
    rating_subject: str = ""
    shared_groups: dict[str, bool] | None = None
    timing_ids: dict[str, bool] | None = None

    def to_doc(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in self.__dict__.items()}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> BalanceFilter:
        value = doc.get("value")
        return cls(**{**doc, "value": None if value is None else Decimal(value)})


@dataclass
class Action:
    identifier: str
    weight: float = 0.0
    balance: BalanceFilter = field(default_factory=BalanceFilter)
    extra_parameters: str = ""
    filter: str = ""

    def to_doc(self) -> dict[str, Any]:
        return {"identifier": self.identifier, "weight": self.weight, "balance": self.balance.to_doc(),
                "extra_parameters": self.extra_parameters, "filter": self.filter}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Action:
        return cls(doc["identifier"], doc["weight"], BalanceFilter.from_doc(doc["balance"]),
                   doc["extra_parameters"], doc["filter"])

    def to_api(self) -> dict[str, Any]:
        """The TPAction shape GetActions answers with (values as strings, as CGrateS's)."""
        b = self.balance

        def joined(m: dict[str, bool] | None) -> str:
            return ";".join(k if v else "!" + k for k, v in (m or {}).items())

        return {
            "Identifier": self.identifier, "BalanceId": b.id, "BalanceUuid": b.uuid, "BalanceType": b.type,
            "Units": "" if b.value is None else str(b.value), "ExpiryTime": b.expiry, "Filter": self.filter,
            "TimingTags": joined(b.timing_ids), "DestinationIds": joined(b.destination_ids),
            "RatingSubject": b.rating_subject, "Categories": joined(b.categories),
            "SharedGroups": joined(b.shared_groups),
            "BalanceWeight": "" if b.weight is None else _weight_text(b.weight),
            "ExtraParameters": self.extra_parameters,
            "BalanceBlocker": "" if b.blocker is None else str(b.blocker).lower(),
            "BalanceDisabled": "" if b.disabled is None else str(b.disabled).lower(),
            "Weight": self.weight,
        }


def _weight_text(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def field_of(data: dict[str, Any], name: str) -> Any:
    """Go's JSON decoding: a struct field matches its key case-insensitively."""
    if name in data:
        return data[name]
    lowered = name.lower()
    for key, value in data.items():
        if key.lower() == lowered:
            return value
    return None


def _optional_bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    return to_bool(value)


def _optional_set(value: Any) -> dict[str, bool] | None:
    found = string_set(value)
    return found or None


def parse_action(data: dict[str, Any]) -> Action:
    """One element of SetActions' ``Actions`` (v1 numbers or v2 strings)."""
    identifier = str(field_of(data, "Identifier") or "").strip()
    missing = [] if identifier else ["Identifier"]
    weight_raw = field_of(data, "Weight")
    balance_type = str(field_of(data, "BalanceType") or "").strip()
    units_raw = field_of(data, "Units")
    if missing:
        raise ActionError(f"MANDATORY_IE_MISSING:Action:{identifier}:{missing}".replace("'", ""))
    try:
        units = None if units_raw in (None, "") else to_decimal(units_raw)
        bal_weight_raw = field_of(data, "BalanceWeight")
        bal_weight = None if bal_weight_raw in (None, "") else float(to_decimal(bal_weight_raw))
        weight = float(to_decimal(weight_raw)) if weight_raw not in (None, "") else 0.0
    except (BadValue, ValueError) as err:
        raise ActionError(f"UNSUPPORTED_FORMAT:{err}") from None
    balance = BalanceFilter(
        type=balance_type, uuid=str(field_of(data, "BalanceUuid") or ""), id=str(field_of(data, "BalanceId") or ""),
        value=units, expiry=str(field_of(data, "ExpiryTime") or ""), weight=bal_weight,
        blocker=_optional_bool(field_of(data, "BalanceBlocker")),
        disabled=_optional_bool(field_of(data, "BalanceDisabled")),
        destination_ids=_optional_set(field_of(data, "DestinationIds")),
        categories=_optional_set(field_of(data, "Categories")),
        rating_subject=str(field_of(data, "RatingSubject") or ""),
        shared_groups=_optional_set(field_of(data, "SharedGroups")),
        timing_ids=_optional_set(field_of(data, "TimingTags")),
    )
    return Action(identifier, weight, balance, str(field_of(data, "ExtraParameters") or ""),
                  str(field_of(data, "Filter") or ""))


def in_run_order(actions: list[Action]) -> list[Action]:
    """Higher Weight first, definition order among equals (as CGrateS sorts action sets)."""
    return sorted(actions, key=lambda a: -a.weight)
