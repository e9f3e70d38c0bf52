"""CDRs: the *cdrlog records of balance changes and the per-session records of Gy, in CGrateS's shape."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from typing import Any

from sigcore.charging.model import Account, Balance, new_uuid
from sigcore.charging.times import rfc3339
from sigcore.charging.values import as_json_number

log = logging.getLogger("sigcore.charging.cdrs")

#: CDR fields with their own column; any other template key lands in ExtraFields.
CDR_FIELDS = ("CGRID", "RunID", "OriginHost", "Source", "OriginID", "ToR", "RequestType", "Tenant", "Category",
              "Account", "Subject", "Destination", "SetupTime", "AnswerTime", "Usage", "Cost")


def _cgrid(origin_id: str, origin_host: str) -> str:
    return hashlib.sha1((origin_id + origin_host).encode()).hexdigest()


def _template(extra_parameters: str) -> dict[str, Any]:
    if not extra_parameters.strip():
        return {}
    try:
        parsed = json.loads(extra_parameters)
    except (ValueError, RecursionError):  # json's decoder recurses per level of nesting
        log.warning("*cdrlog: ExtraParameters is not a JSON object, ignored: %r", extra_parameters[:200])
        return {}
    return parsed if isinstance(parsed, dict) else {}


def cdrlog_record(acc: Account, action: Any, bal: Balance, extra_parameters: str, now: dt.datetime) -> dict[str, Any]:
    """One CDR for one balance change. The template maps CDR fields to ``~Field`` (read from the action:
    Tenant, Account, ActionType, ActionValue, BalanceType, BalanceID, BalanceUUID, BalanceValue,
    ExtraParameters), ``^literal`` (v0.9's constants) or a literal."""
    value = action.balance.value
    action_fields: dict[str, Any] = {
        "Tenant": acc.tenant, "Account": acc.name, "ActionType": action.identifier,
        "ActionValue": as_json_number(value) if value is not None else 0, "BalanceType": bal.type,
        "BalanceID": bal.id, "BalanceUUID": bal.uuid, "BalanceValue": as_json_number(bal.value),
        "ExtraParameters": action.extra_parameters,
    }
    origin_id = new_uuid()
    record: dict[str, Any] = {
        "CGRID": _cgrid(origin_id, "127.0.0.1"), "RunID": action.identifier, "OrderID": 0,
        "OriginHost": "127.0.0.1", "Source": "*cdrlog", "OriginID": origin_id, "ToR": bal.type,
        "RequestType": "*none", "Tenant": acc.tenant, "Category": "", "Account": acc.name, "Subject": acc.name,
        "Destination": "", "SetupTime": rfc3339(now), "AnswerTime": rfc3339(now), "Usage": 0,
        "Cost": action_fields["ActionValue"], "ExtraFields": {}, "CostSource": "", "ExtraInfo": "",
        "PreRated": True, "Partial": False,
    }
    for key, raw in _template(extra_parameters).items():
        text = str(raw)
        if text.startswith("~"):
            name = text[1:].removeprefix("*act.").removeprefix("*acnt.")
            resolved = action_fields.get(name, "")
        elif text.startswith("^"):
            resolved = text[1:]
        else:
            resolved = raw
        if key in CDR_FIELDS:
            record[key] = resolved
        else:
            record["ExtraFields"][key] = str(resolved)
    return record


def session_record(acc: Account, session_id: str, origin_host: str, tor: str, usage: Any, cost: Any,
                   started: dt.datetime, now: dt.datetime, extra: dict[str, str]) -> dict[str, Any]:
    """The CDR of one finished Gy session (RunID *default, Source the Diameter agent)."""
    return {
        "CGRID": _cgrid(session_id, origin_host), "RunID": "*default", "OrderID": 0, "OriginHost": origin_host,
        "Source": "*diameter_gy", "OriginID": session_id, "ToR": tor, "RequestType": "*prepaid",
        "Tenant": acc.tenant, "Category": "call", "Account": acc.name, "Subject": acc.name, "Destination": "",
        "SetupTime": rfc3339(started), "AnswerTime": rfc3339(started), "Usage": usage, "Cost": cost,
        "ExtraFields": extra, "CostSource": "", "ExtraInfo": "", "PreRated": False, "Partial": False,
    }
