"""Posted forms to API bodies, and the API's 422 messages back to words beside each field.

Values are converted, not judged: the API validates everything (and is the only judge); a field the
console cannot even convert (letters in a number) gets its message here, without asking the API.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from starlette.datastructures import FormData

from sigcore.console.api_client import ApiAnswer

#: What the API's pattern errors mean, per field, in an operator's words.
HINTS = {
    "imsi": "an IMSI is 6 to 15 digits", "msisdn": "an MSISDN is 1 to 15 digits (no + or spaces)",
    "iccid": "an ICCID is 18 to 22 digits", "ki": "a key is 32 hexadecimal digits",
    "opc": "a key is 32 hexadecimal digits", "op": "a key is 32 hexadecimal digits",
    "amf": "the AMF is 4 hexadecimal digits", "imei": "an IMEI is 14 or 15 digits",
    "prefix": "a prefix is 1 to 14 digits", "name": "a name has no spaces (1 to 100 characters)",
    "apns": "APN names have no spaces", "charging_characteristics": "4 hexadecimal digits",
}
#: Access-Restriction-Data bits (TS 29.272 §7.3.31) the subscriber page offers as check boxes.
ACCESS_RESTRICTIONS = (
    (0, "UTRAN not allowed"), (1, "GERAN not allowed"), (2, "GAN not allowed"), (3, "I-HSPA-Evolution not allowed"),
    (4, "WB-E-UTRAN not allowed"), (5, "Handover to non-3GPP access not allowed"), (6, "NB-IoT not allowed"),
    (7, "Enhanced coverage not allowed"),
)
SECRET_FIELDS = frozenset({"ki", "opc", "op", "operator_key", "password", "token"})


class FormErrors(dict[str, str]):
    """Messages by field name; ``""`` holds those that belong to no field."""

    def add(self, field: str, message: str) -> None:
        self.setdefault(field, message)

    def move(self, names: tuple[str, ...], field: str) -> None:
        """Show the API's messages about `names` beside the form's `field` (one input for two API fields)."""
        for name in names:
            if name in self:
                self.add(field, self.pop(name))


def text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    stripped = value.strip() if isinstance(value, str) else ""
    return stripped or None


def integer(form: FormData, name: str, errors: FormErrors) -> int | None:
    value = text(form, name)
    if value is None:
        return None
    try:
        return int(value.replace("_", "").replace(" ", ""))
    except ValueError:
        errors.add(name, "expected a whole number")
        return None


def given(form: FormData, errors: FormErrors, texts: tuple[str, ...] = (), integers: tuple[str, ...] = ()
          ) -> dict[str, Any]:
    """The named fields that were filled in: `texts` as typed, `integers` as numbers."""
    body: dict[str, Any] = {name: text(form, name) for name in texts if text(form, name) is not None}
    for name in integers:
        value = integer(form, name, errors)
        if value is not None:
            body[name] = value
    return body


def names(form: FormData, name: str) -> list[str] | None:
    value = text(form, name)
    return re.split(r"[\s,|]+", value) if value is not None else None


def bits(form: FormData, name: str) -> int:
    return sum(1 << int(v) for v in form.getlist(name) if isinstance(v, str) and v.isdigit() and int(v) < 31)


def api_errors(answer: ApiAnswer, errors: FormErrors, fields: Iterable[str] = ()) -> FormErrors:
    """The API's refusal, each message beside its field when the form has it (else at the top)."""
    known = set(fields)
    for field, message in answer.field_errors().items():
        shown = HINTS.get(field, message) if "should match pattern" in message else message
        errors.add(field if field in known else "", shown if field in known or not field else f"{field}: {shown}")
    return errors


def kept(form: FormData) -> dict[str, Any]:
    """The form's values to show again after an error: everything but the secrets."""
    return {k: v for k, v in form.multi_items() if k not in SECRET_FIELDS and k != "csrf" and isinstance(v, str)}
