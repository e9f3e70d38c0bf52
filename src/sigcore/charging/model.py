"""The charging domain: accounts holding balances, actions, action triggers.

An account is stored as one document (like CGrateS, which keeps an account as one serialised object):
every change to an account reads and writes that one row inside one transaction holding its lock, which
is what makes a debit all-or-nothing and two processes unable to spend the same units.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sigcore.charging.times import from_rfc3339, rfc3339
from sigcore.charging.values import ZERO, as_json_number

BALANCE_TYPES = ("*monetary", "*data", "*voice", "*sms", "*mms", "*generic")


def new_uuid() -> str:
    return str(uuid.uuid4())


@dataclass
class Balance:
    type: str
    uuid: str = field(default_factory=new_uuid)
    id: str = ""
    value: Decimal = ZERO
    expiration: dt.datetime | None = None
    weight: float = 0.0
    blocker: bool = False
    disabled: bool = False
    destination_ids: dict[str, bool] = field(default_factory=dict)
    categories: dict[str, bool] = field(default_factory=dict)
    rating_subject: str = ""
    shared_groups: dict[str, bool] = field(default_factory=dict)
    timing_ids: dict[str, bool] = field(default_factory=dict)
    factor: dict[str, float] | None = None

    def expired(self, now: dt.datetime) -> bool:
        return self.expiration is not None and self.expiration <= now

    def spendable(self, now: dt.datetime) -> bool:
        return not self.disabled and not self.expired(now)

    def to_api(self) -> dict[str, Any]:
        """CGrateS's Balance JSON."""
        return {
            "Uuid": self.uuid, "ID": self.id, "Value": as_json_number(self.value),
            "ExpirationDate": rfc3339(self.expiration), "Weight": _number(self.weight),
            "DestinationIDs": dict(self.destination_ids), "RatingSubject": self.rating_subject,
            "Categories": dict(self.categories), "SharedGroups": dict(self.shared_groups), "Timings": None,
            "TimingIDs": dict(self.timing_ids), "Disabled": self.disabled, "Factor": self.factor,
            "Blocker": self.blocker,
        }

    def to_doc(self) -> dict[str, Any]:
        doc = self.to_api()
        doc["Value"] = str(self.value)
        doc["Type"] = self.type
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Balance:
        return cls(
            type=doc["Type"], uuid=doc["Uuid"], id=doc["ID"], value=Decimal(doc["Value"]),
            expiration=from_rfc3339(doc["ExpirationDate"]), weight=float(doc["Weight"]),
            blocker=doc["Blocker"], disabled=doc["Disabled"], destination_ids=doc["DestinationIDs"],
            categories=doc["Categories"], rating_subject=doc["RatingSubject"], shared_groups=doc["SharedGroups"],
            timing_ids=doc["TimingIDs"], factor=doc["Factor"],
        )


def _number(value: float) -> int | float:
    return int(value) if value == int(value) else value


@dataclass
class Trigger:
    """An ActionTrigger: run `actions_id` when a balance (or counter) crosses `threshold`."""

    group_id: str
    threshold_type: str
    threshold: Decimal
    actions_id: str
    unique_id: str = field(default_factory=new_uuid)
    recurrent: bool = False
    min_sleep_s: float = 0.0
    expiration: dt.datetime | None = None
    activation: dt.datetime | None = None
    balance_type: str = ""
    balance_id: str = ""
    balance_destination_ids: dict[str, bool] = field(default_factory=dict)
    weight: float = 0.0
    executed: bool = False
    last_execution: dt.datetime | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "ID": self.group_id, "UniqueID": self.unique_id, "ThresholdType": self.threshold_type,
            "ThresholdValue": as_json_number(self.threshold), "Recurrent": self.recurrent,
            "MinSleep": int(self.min_sleep_s * 1e9), "ExpirationDate": rfc3339(self.expiration),
            "ActivationDate": rfc3339(self.activation),
            "Balance": {"Type": self.balance_type or None, "ID": self.balance_id or None,
                        "DestinationIDs": self.balance_destination_ids or None},
            "Weight": _number(self.weight), "ActionsID": self.actions_id, "MinQueuedItems": 0,
            "Executed": self.executed, "LastExecutionTime": rfc3339(self.last_execution),
        }

    def to_doc(self) -> dict[str, Any]:
        doc = self.to_api()
        doc["ThresholdValue"] = str(self.threshold)
        doc["MinSleep"] = self.min_sleep_s
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Trigger:
        bal = doc.get("Balance") or {}
        return cls(
            group_id=doc["ID"], unique_id=doc["UniqueID"], threshold_type=doc["ThresholdType"],
            threshold=Decimal(str(doc["ThresholdValue"])), actions_id=doc["ActionsID"],
            recurrent=doc["Recurrent"], min_sleep_s=float(doc["MinSleep"]),
            expiration=from_rfc3339(doc["ExpirationDate"]), activation=from_rfc3339(doc["ActivationDate"]),
            balance_type=bal.get("Type") or "", balance_id=bal.get("ID") or "",
            balance_destination_ids=bal.get("DestinationIDs") or {}, weight=float(doc["Weight"]),
            executed=doc["Executed"], last_execution=from_rfc3339(doc["LastExecutionTime"]),
        )


@dataclass
class Reservation:
    """Units held for a Gy session's rating group until used, released or timed out."""

    balance_type: str
    units: Decimal
    expires: dt.datetime


@dataclass
class Account:
    tenant: str
    name: str
    balances: list[Balance] = field(default_factory=list)
    allow_negative: bool = False
    disabled: bool = False
    triggers: list[Trigger] = field(default_factory=list)
    counters: dict[str, Decimal] = field(default_factory=dict)
    update_time: dt.datetime | None = None
    # session id -> rating group -> reservation
    reservations: dict[str, dict[int, Reservation]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.tenant}:{self.name}"

    def by_type(self, balance_type: str) -> list[Balance]:
        return [b for b in self.balances if b.type == balance_type]

    def reserved(self, balance_type: str, now: dt.datetime) -> Decimal:
        return sum((r.units for rgs in self.reservations.values() for r in rgs.values()
                    if r.balance_type == balance_type and r.expires > now), ZERO)

    def total(self, balance_type: str, now: dt.datetime) -> Decimal:
        return sum((b.value for b in self.by_type(balance_type) if b.spendable(now)), ZERO)

    def to_api(self) -> dict[str, Any]:
        """The v2 GetAccount shape."""
        balance_map: dict[str, list[dict[str, Any]]] = {}
        for bal in self.balances:
            balance_map.setdefault(bal.type, []).append(bal.to_api())
        counters = None
        if self.counters:
            counters = {t: [{"CounterType": "*event", "Counters": [{"Value": as_json_number(v)}]}]
                        for t, v in self.counters.items()}
        return {
            "ID": self.key, "BalanceMap": balance_map, "UnitCounters": counters,
            "ActionTriggers": [t.to_api() for t in self.triggers] or None,
            "AllowNegative": self.allow_negative, "Disabled": self.disabled,
            "UpdateTime": rfc3339(self.update_time),
        }

    def to_api_v1(self) -> dict[str, Any]:
        """The v1 GetAccount shape: ``*out:`` prefixed id and ``*out`` suffixed balance types."""
        doc = self.to_api()
        doc["Id"] = "*out:" + doc.pop("ID")
        doc["BalanceMap"] = {f"{k}*out": v for k, v in doc["BalanceMap"].items()}
        return doc

    def to_doc(self) -> dict[str, Any]:
        return {
            "Balances": [b.to_doc() for b in self.balances], "AllowNegative": self.allow_negative,
            "Disabled": self.disabled, "Triggers": [t.to_doc() for t in self.triggers],
            "Counters": {k: str(v) for k, v in self.counters.items()}, "UpdateTime": rfc3339(self.update_time),
            "Reservations": {sid: {str(rg): [r.balance_type, str(r.units), rfc3339(r.expires)]
                                   for rg, r in rgs.items()} for sid, rgs in self.reservations.items()},
        }

    @classmethod
    def from_doc(cls, tenant: str, name: str, doc: dict[str, Any]) -> Account:
        reservations = {
            sid: {int(rg): Reservation(r[0], Decimal(r[1]), from_rfc3339(r[2]) or dt.datetime.max.replace(
                tzinfo=dt.UTC)) for rg, r in rgs.items()}
            for sid, rgs in doc.get("Reservations", {}).items()
        }
        return cls(
            tenant=tenant, name=name, balances=[Balance.from_doc(b) for b in doc["Balances"]],
            allow_negative=doc["AllowNegative"], disabled=doc["Disabled"],
            triggers=[Trigger.from_doc(t) for t in doc["Triggers"]],
            counters={k: Decimal(v) for k, v in doc["Counters"].items()},
            update_time=from_rfc3339(doc["UpdateTime"]), reservations=reservations,
        )
