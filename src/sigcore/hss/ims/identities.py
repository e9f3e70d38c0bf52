"""The forms of the IMS identities a provisioning request may create (TS 23.003 §13), for `sigcore ims add`
and the REST API alike.

A private identity (IMPI) takes the form of an NAI, username@realm (§13.3, RFC 7542); a public identity
(IMPU, §13.4, and a PSI, §13.5) is a SIP or SIPS URI (RFC 3261) or a tel URI (RFC 3966). Only creation
checks the form: lookups, deletions and changes take any stored identity, so older rows stay reachable.
"""

from __future__ import annotations

import re

from sigcore.store.ims_models import URI_LEN

PASSWORD_LEN = 256
"""The longest SIP Digest password taken (it is stored as HA1 only)."""

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})*"
_HOST = rf"(?:{_DOMAIN}|\[[0-9A-Fa-f:.]+\])"
# RFC 7542's username characters (no ':', so a SIP URI is not taken for an IMPI) but '/', as an IMPI is a
# segment of the API's paths.
IMPI_PATTERN = rf"^[A-Za-z0-9!#$%&'*+=?^_`{{|}}~.-]+@{_DOMAIN}$"
_SIP = rf"sips?:(?:[!-?A-~]+@)?{_HOST}(?::[0-9]{{1,5}})?(?:[;?][!-~]*)?"
# RFC 3966: a global number (+ and digits with visual separators) or a local one with its phone-context.
_TEL = (r"tel:(?:\+[0-9().-]*[0-9][0-9().-]*(?:;[!-~]*)?"
        r"|[0-9A-Fa-f*#().-]+;(?:[!-~]*;)?phone-context=[!-~]+)")
IMPU_PATTERN = rf"^(?:{_SIP}|{_TEL})$"

IMPI_FORM = "username@realm (TS 23.003 §13.3)"
IMPU_FORM = "a sip:, sips: or tel:+digits URI (TS 23.003 §13.4)"

_IMPI = re.compile(IMPI_PATTERN)
_IMPU = re.compile(IMPU_PATTERN)
# A wildcarded PSI's '!...!' part is a pattern, not URI text: checked by sigcore.store.psi_wildcard.
_WILDCARD_PART = re.compile(r"![^!]*!")


def _check(field: str, value: str, pattern: re.Pattern[str], form: str, what: str, subject: str | None = None) -> str:
    if len(value) > URI_LEN:  # the columns' length; the pattern then never runs on a long value
        raise ValueError(f"{field}: a {what} has at most {URI_LEN} characters, got {len(value)}")
    if not pattern.match(value if subject is None else subject):
        raise ValueError(f"{field}: {value!r} is not a {what}: expected {form}")
    return value


def private_identity(value: str, field: str = "impi") -> str:
    """`value` if it is an IMPI in NAI form; ValueError naming `field` and the value otherwise."""
    return _check(field, value, _IMPI, IMPI_FORM, "private identity")


def public_identity(value: str, field: str = "impu", *, wildcarded: bool = False) -> str:
    """`value` if it is a SIP/SIPS or tel URI; `wildcarded`: a wildcarded PSI, whose '!...!' part is left out."""
    plain = _WILDCARD_PART.sub("0", value) if wildcarded else None
    return _check(field, value, _IMPU, IMPU_FORM, "public identity", plain)


def printable(field: str, value: str, longest: int, *, path_segment: bool = False) -> str:
    """`value` if it is 1 to `longest` printable ASCII characters without spaces (and without '/' for a name
    that is a segment of the API's paths), as the API's realm, S-CSCF and profile fields are."""
    if not 1 <= len(value) <= longest:
        raise ValueError(f"{field}: 1 to {longest} characters, got {len(value)}")
    if not all("!" <= c <= "~" for c in value) or (path_segment and "/" in value):
        without = "spaces or '/'" if path_segment else "spaces"
        raise ValueError(f"{field}: printable ASCII without {without}, got {value!r}")
    return value
