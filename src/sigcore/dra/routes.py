"""The DRA's route table: which peers a request goes to, in which order (pure, no I/O).

Rules come from ``dra.routes``. Every match field a rule gives must hold; among the rules that match, the
most specific win (more match fields; among equals, the longer ``user_name_prefix``), so an IMSI-range rule
beats a realm rule and any rule beats the default (a rule with no match field). Those winners are ordered by
``priority`` (lower first: active, then standby) and, within one priority, by a weighted random draw on
``weight``, so that load is shared in proportion over many requests while a failover still walks every
candidate. Peers named by several winners keep their first place.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from struct import Struct
from typing import NamedTuple

from sigcore.diameter.message import Message
from sigcore.dra.config import MATCH_FIELDS, RouteConfig

# RFC 6733 base AVPs: Destination-Realm, Destination-Host, Origin-Host, Origin-Realm, User-Name
_DEST_REALM, _DEST_HOST, _ORIGIN_HOST, _ORIGIN_REALM, _USER_NAME = 283, 293, 264, 296, 1
_FACT_CODES = frozenset({_DEST_REALM, _DEST_HOST, _ORIGIN_HOST, _ORIGIN_REALM, _USER_NAME})


class RequestFacts(NamedTuple):
    """What a rule can match on; hosts and realms lower-cased (DiameterIdentity compares without case)."""

    application_id: int
    command_code: int
    destination_realm: str | None = None
    destination_host: str | None = None
    origin_host: str | None = None
    origin_realm: str | None = None
    user_name: str | None = None


def facts_of(msg: Message) -> RequestFacts:
    """One pass over the top-level AVPs of a request."""
    dr = dh = oh = orr = un = None
    for a in msg.avps:
        code = a.code
        if code > _ORIGIN_REALM or a.vendor:
            continue
        if code == _DEST_REALM:
            dr = bytes(a.data).decode("utf-8", "replace").lower()
        elif code == _USER_NAME:
            un = bytes(a.data).decode("utf-8", "replace")
        elif code == _ORIGIN_HOST:
            oh = bytes(a.data).decode("utf-8", "replace").lower()
        elif code == _ORIGIN_REALM:
            orr = bytes(a.data).decode("utf-8", "replace").lower()
        elif code == _DEST_HOST:
            dh = bytes(a.data).decode("utf-8", "replace").lower()
    return RequestFacts(msg.app_id, msg.code, dr, dh, oh, orr, un)


_U32X2 = Struct(">II")
_U32X3 = Struct(">III")


def facts_of_header(buf: bytes | bytearray, destination_realm: str | None = None,
                    destination_host: str | None = None) -> RequestFacts:
    """Facts from the header alone (plus the destination, when the caller has read it already)."""
    _, flags_code, app_id = _U32X3.unpack_from(buf, 0)
    return RequestFacts(app_id, flags_code & 0xFFFFFF, destination_realm, destination_host)


def facts_of_frame(buf: bytes | bytearray) -> RequestFacts:
    """The same from a request's wire bytes, walking the top-level AVP headers only (no decode).
    Raises ValueError if an AVP header does not fit the message."""
    _, flags_code, app_id = _U32X3.unpack_from(buf, 0)
    found: dict[int, str] = {}
    off, end = 20, len(buf)
    unpack_from = _U32X2.unpack_from
    while off < end:
        if end - off < 8:
            raise ValueError(f"truncated AVP header at offset {off}")
        code, flags_len = unpack_from(buf, off)
        length = flags_len & 0xFFFFFF
        if length < 8 or off + length > end:
            raise ValueError(f"AVP {code} length {length} does not fit (offset {off})")
        if not flags_len & 0x80000000 and code in _FACT_CODES and code not in found:
            found[code] = bytes(buf[off + 8:off + length]).decode("utf-8", "replace")
        off += (length + 3) & ~3

    def low(code: int) -> str | None:
        v = found.get(code)
        return v.lower() if v is not None else None

    return RequestFacts(app_id, flags_code & 0xFFFFFF, low(_DEST_REALM), low(_DEST_HOST), low(_ORIGIN_HOST),
                        low(_ORIGIN_REALM), found.get(_USER_NAME))


def _lower(value: str | None) -> str | None:
    return value.lower() if value is not None else None


@dataclass(slots=True)
class Route:
    """One compiled rule."""

    name: str
    peers: tuple[str, ...]
    priority: int = 1
    weight: int = 1
    destination_realm: str | None = None
    destination_host: str | None = None
    application_id: int | None = None
    command_code: int | None = None
    origin_host: str | None = None
    origin_realm: str | None = None
    user_name_prefix: str | None = None
    user_name_regex: re.Pattern[str] | None = None
    specificity: tuple[int, int] = field(init=False)

    def __post_init__(self) -> None:
        given = sum(getattr(self, f) is not None for f in MATCH_FIELDS)
        self.specificity = (given, len(self.user_name_prefix or ""))

    @classmethod
    def from_config(cls, rc: RouteConfig, index: int) -> Route:
        return cls(
            name=rc.name or f"route{index}", peers=tuple(p.lower() for p in rc.peers), priority=rc.priority,
            weight=rc.weight, destination_realm=_lower(rc.destination_realm),
            destination_host=_lower(rc.destination_host), application_id=rc.application_id,
            command_code=rc.command_code, origin_host=_lower(rc.origin_host), origin_realm=_lower(rc.origin_realm),
            user_name_prefix=rc.user_name_prefix,
            user_name_regex=re.compile(rc.user_name_regex) if rc.user_name_regex is not None else None)

    @property
    def is_default(self) -> bool:
        return self.specificity[0] == 0

    def matches(self, f: RequestFacts) -> bool:
        if self.destination_realm is not None and self.destination_realm != f.destination_realm:
            return False
        if self.application_id is not None and self.application_id != f.application_id:
            return False
        if self.command_code is not None and self.command_code != f.command_code:
            return False
        if self.destination_host is not None and self.destination_host != f.destination_host:
            return False
        if self.origin_host is not None and self.origin_host != f.origin_host:
            return False
        if self.origin_realm is not None and self.origin_realm != f.origin_realm:
            return False
        un = f.user_name
        if self.user_name_prefix is not None and (un is None or not un.startswith(self.user_name_prefix)):
            return False
        return self.user_name_regex is None or (un is not None and self.user_name_regex.match(un) is not None)

    def describe(self) -> str:
        """The match fields as ``key=value`` (``*`` for the default route)."""
        parts = []
        for f in MATCH_FIELDS:
            value = getattr(self, f)
            if value is not None:
                parts.append(f"{f}={value.pattern if isinstance(value, re.Pattern) else value}")
        return " ".join(parts) or "*"


class RouteTable:
    """Compiled rules. IMSI-range rules are indexed by prefix, so thousands of ranges cost a few dict
    lookups per request, not a scan."""

    def __init__(self, routes: Iterable[Route], rng: Callable[[], float] = random.random) -> None:
        self.routes: list[Route] = list(routes)
        self._random = rng
        self._by_prefix: dict[str, list[Route]] = {}
        others: list[Route] = []
        for r in self.routes:
            if r.user_name_prefix is not None:
                self._by_prefix.setdefault(r.user_name_prefix, []).append(r)
            else:
                others.append(r)
        self._prefix_lengths = sorted({len(p) for p in self._by_prefix}, reverse=True)
        used = {f for r in self.routes for f in MATCH_FIELDS if getattr(r, f) is not None}
        #: which request facts the rules look at: "header" (none or only application/command), "destination"
        #: (also Destination-Realm/-Host, which the node has already read), "avps" (anything else)
        self.reads = ("avps" if used - {"application_id", "command_code", "destination_realm", "destination_host"}
                      else "destination" if used & {"destination_realm", "destination_host"} else "header")
        self._others = sorted(others, key=lambda r: r.specificity, reverse=True)  # stable: config order kept

    @classmethod
    def from_config(cls, routes: Sequence[RouteConfig], rng: Callable[[], float] = random.random) -> RouteTable:
        return cls((Route.from_config(rc, i) for i, rc in enumerate(routes)), rng)

    def match(self, f: RequestFacts) -> list[Route]:
        """The most specific matching rules, in priority order then config order ([] if none matches)."""
        best: list[Route] = []
        top = (-1, -1)
        un = f.user_name
        if un is not None and self._prefix_lengths:
            for n in self._prefix_lengths:
                for r in self._by_prefix.get(un[:n], ()):
                    if r.specificity >= top and r.matches(f):
                        if r.specificity > top:
                            top, best = r.specificity, []
                        best.append(r)
        for r in self._others:
            if r.specificity < top:
                break
            if r.matches(f):
                if r.specificity > top:
                    top, best = r.specificity, []
                best.append(r)
        if len(best) > 1:
            best.sort(key=lambda r: r.priority)
        return best

    def candidates(self, f: RequestFacts) -> tuple[list[str], Route | None]:
        """Peer names to try in order, and the rule that supplied the first of them (for the counters)."""
        rules = self.match(f)
        if not rules:
            return [], None
        if len(rules) == 1:
            only = rules[0]
            return (self._spread(only.peers) if len(only.peers) > 1 else list(only.peers)), only
        ordered: list[Route] = []
        i = 0
        while i < len(rules):  # each priority group in a weighted random order
            j = i
            while j < len(rules) and rules[j].priority == rules[i].priority:
                j += 1
            group = rules[i:j]
            if len(group) > 1:
                rnd = self._random
                # Efraimidis-Spirakis: sorting by u**(1/w) draws without replacement in proportion to w
                group.sort(key=lambda r: rnd() ** (1.0 / r.weight) if r.weight else -1.0, reverse=True)
            ordered.extend(group)
            i = j
        peers: list[str] = []
        for r in ordered:
            for p in self._spread(r.peers) if len(r.peers) > 1 else r.peers:
                if p not in peers:
                    peers.append(p)
        return peers, ordered[0]

    def _spread(self, peers: tuple[str, ...]) -> list[str]:
        """A rule's own peers share its load equally: start at a random one, keep the configured order."""
        k = int(self._random() * len(peers))
        return list(peers[k:] + peers[:k])
