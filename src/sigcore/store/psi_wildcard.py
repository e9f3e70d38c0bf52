"""Wildcarded PSIs in the syntax of TS 23.003 §13.5 (used by TS 29.228 for Wildcarded-Public-Identity).

A wildcarded PSI is the URI with its wildcarded part between exclamation marks, e.g.
``sip:chatlist!.*!@example.com`` or ``sip:conf-![0-9]+!@ims.example.org``. The part between the ``!`` is a
regular expression; sigcore accepts one such part made of one atom (``.``, ``\\d`` or a bracket class of
letters, digits, ranges and ``-._~+%:@``) and one quantifier (``*``, ``+``, ``?``, ``{m}``, ``{m,}``,
``{m,n}``), which is what the specifications' examples use. Anything else (alternation, groups, nested
repetition) is refused when provisioned: an arbitrary pattern can take exponential time to match, and the
match runs for every LIR/SAR/UDR naming a URI that is not stored as such.

With one quantified atom between literal text, a match is at worst quadratic in the URI's length (at most
255), whatever the operator writes.
"""

from __future__ import annotations

import re
from functools import lru_cache

from sigcore.store.errors import InvalidValue

_CLASS_CHARS = r"A-Za-z0-9\-._~+%:@"
_ATOM = rf"(?:\.|\\d|\[\^?(?:[{_CLASS_CHARS}])+\])"
_QUANTIFIER = r"(?:[*+?]|\{[0-9]{1,3}(?:,[0-9]{0,3})?\})"
_SYNTAX = re.compile(rf"^(?P<head>[^!]*)!(?P<part>{_ATOM}{_QUANTIFIER})!(?P<tail>[^!]*)$")

EXPECTED = ("a wildcarded PSI as in TS 23.003 §13.5: the URI with its wildcarded part between '!' "
            "(e.g. 'sip:chatlist!.*!@example.com'); the part is '.', '\\d' or a [class], then '*', '+', '?' or "
            "'{m,n}'")


def check(field: str, wildcard: str) -> str:
    """`wildcard` if it is a wildcarded PSI sigcore accepts; `InvalidValue` naming `field` otherwise."""
    if not _SYNTAX.match(wildcard) or _compile(wildcard) is None:
        raise InvalidValue(f"{field}: expected {EXPECTED}")
    return wildcard


def matches(wildcard: str, uri: str) -> bool:
    """Whether `uri` is one of the identities the wildcarded PSI `wildcard` stands for."""
    pattern = _compile(wildcard)
    return pattern is not None and pattern.fullmatch(uri) is not None


@lru_cache(maxsize=4096)
def _compile(wildcard: str) -> re.Pattern[str] | None:
    found = _SYNTAX.match(wildcard)
    if found is None:
        return None
    try:
        return re.compile(re.escape(found["head"]) + found["part"] + re.escape(found["tail"]))
    except re.error:  # e.g. a reversed range [z-a]
        return None


def from_regular_expression(expression: str) -> str | None:
    """The TS 23.003 form of an (older) whole-URI regular expression, if it is literal text around one
    quantified atom the syntax allows: ``sip:conf-[0-9]+@ims\\.example\\.org`` -> ``sip:conf-![0-9]+!@ims.example.org``.
    None when it has no such form (the migration then keeps the identity as a distinct PSI)."""
    from re import _parser  # type: ignore[attr-defined]  # the stdlib's own parse of a pattern

    try:
        parsed = list(_parser.parse(expression))
    except re.error:
        return None
    repeats = [i for i, (op, _) in enumerate(parsed) if op in (_parser.MAX_REPEAT, _parser.MIN_REPEAT)]
    # outside the wildcarded part an unescaped '.' (any character) is read as the dot it surely meant
    plain = {_parser.LITERAL, _parser.ANY}
    if len(repeats) != 1 or any(op not in plain for i, (op, _) in enumerate(parsed) if i != repeats[0]):
        return None
    at = repeats[0]
    head = "".join("." if op is _parser.ANY else chr(v) for op, v in parsed[:at])
    tail = "".join("." if op is _parser.ANY else chr(v) for op, v in parsed[at + 1:])
    part = _part_text(expression, head, tail)
    candidate = f"{head}!{part}!{tail}" if part else None
    if candidate is None or "!" in head + tail or not _SYNTAX.match(candidate) or _compile(candidate) is None:
        return None
    return candidate


def _part_text(expression: str, head: str, tail: str) -> str | None:
    """The quantified atom as written: the expression minus its (possibly escaped) literal head and tail."""
    for escaped_head in (re.escape(head), head, head.replace(".", r"\.")):
        for escaped_tail in (re.escape(tail), tail, tail.replace(".", r"\.")):
            if expression.startswith(escaped_head) and expression.endswith(escaped_tail):
                middle = expression[len(escaped_head):len(expression) - len(escaped_tail) or None]
                if middle:
                    return middle
    return None
