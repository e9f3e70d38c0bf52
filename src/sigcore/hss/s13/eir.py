"""The EIR's decision: which equipment status an IMEI (with the IMSI using it) gets, and its history.

Precedence, most specific first:

1. a rule for the **exact IMEI** (14 digits);
2. the rule with the **longest prefix** of the IMEI (a TAC is the first 8 digits);
3. the **default status** for unknown equipment (`None`: the equipment is unknown, TS 29.272 answers
   DIAMETER_ERROR_EQUIPMENT_UNKNOWN).

A rule bound to an IMSI applies only when the check carries that IMSI; among rules equally specific in
the IMEI, the IMSI-bound one wins. So "this IMEI is blacklisted, except in the hands of IMSI X" is an
exact blacklist rule plus an exact whitelist rule bound to X, and a bound rule never decides for
another subscriber: with a different IMSI the check falls through to the unbound rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sigcore.store.eir import EirRepository, EirRule, EquipmentStatus
from sigcore.store.eir_models import IMEI_DIGITS

IMEISV_DIGITS = 16  # TAC + SNR + 2-digit software version (TS 23.003 §6.2.2)


class InvalidImei(ValueError):
    """Not an IMEI this EIR can check (the message says why)."""


def luhn_ok(digits: str) -> bool:
    """The IMEI check digit of TS 23.003 Annex B (Luhn over the 14 digits, check digit last)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            value = value - 9 if value > 9 else value
        total += value
    return total % 10 == 0


def normalise_imei(text: str, *, strict_check_digit: bool = True) -> tuple[str, str | None]:
    """(14-digit IMEI, software version or None) from 14 digits, 15 (with check digit) or 16 (IMEISV).

    On S13 the IMEI AVP carries the 14 digits (TS 29.272 §7.3.4) and the version goes in Software-Version;
    operators type IMEIs with the check digit, which we verify (unless told not to) and drop.
    """
    value = text.strip().replace("-", "").replace(" ", "")
    if not (value.isascii() and value.isdigit()):
        raise InvalidImei("an IMEI is decimal digits only")
    if len(value) == IMEI_DIGITS:
        return value, None
    if len(value) == IMEI_DIGITS + 1:
        if strict_check_digit and not luhn_ok(value):
            raise InvalidImei(f"the check digit of {value} is wrong")
        return value[:IMEI_DIGITS], None
    if len(value) == IMEISV_DIGITS:
        return value[:IMEI_DIGITS], value[IMEI_DIGITS:]
    raise InvalidImei("expected 14 digits (IMEI), 15 (with check digit) or 16 (IMEISV)")


def _specificity(rule: EirRule) -> tuple[bool, int, bool]:
    return rule.exact, len(rule.pattern), rule.imsi is not None


def choose_rule(candidates: Iterable[EirRule], imei: str, imsi: str | None) -> EirRule | None:
    """The deciding rule among `candidates` for this IMEI and IMSI (module docstring), or None."""
    applicable = [r for r in candidates
                  if (r.pattern == imei if r.exact else imei.startswith(r.pattern))
                  and (r.imsi is None or r.imsi == imsi)]
    return max(applicable, key=_specificity, default=None)


@dataclass(frozen=True, slots=True)
class EirDecision:
    imei: str
    status: EquipmentStatus | None  # None: unknown equipment
    rule: EirRule | None  # None: the default status (or unknown)


class Eir:
    """Checks equipment against the stored rules and records every check (blocking: call from a thread)."""

    def __init__(self, rules: EirRepository, unknown_status: EquipmentStatus | None = None,
                 record_history: bool = True) -> None:
        self.rules = rules
        self.unknown_status = unknown_status
        self.record_history = record_history

    def check(self, imei: str, *, imsi: str | None = None, software_version: str | None = None,
              origin_host: str | None = None) -> EirDecision:
        """Decide for a normalised 14-digit `imei` and remember the check."""
        rule = choose_rule(self.rules.candidates(imei, imsi), imei, imsi)
        status = rule.status if rule else self.unknown_status
        if self.record_history:
            self.rules.record_check(imei, software_version=software_version, imsi=imsi, status=status,
                                    rule_id=rule.id if rule else None, origin_host=origin_host)
        return EirDecision(imei, status, rule)
