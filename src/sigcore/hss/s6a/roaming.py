"""Is a subscriber allowed in the visited PLMN? Decided on the whole PLMN (MCC + 2- or 3-digit MNC).

A PLMN is the 5 or 6 digit string MCC‖MNC, so 310-26 ("31026") and 310-260 ("310260") are different
networks, and a foreign network that shares the home MCC is still roaming (PyHSS compared the MCC only).
Rules come from the store (`Store.roaming_rule`: the subscriber's own rule wins over the global one) and
are cached for `ttl` seconds, because a ULR must not read the whole rule table.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable

from sigcore.store import RoamingPolicy, RoamingRule, Subscriber
from sigcore.toolkit import plmn as plmn_codec


@functools.lru_cache(maxsize=4096)
def plmn_digits(visited_plmn_id: bytes) -> str:
    """Visited-PLMN-Id (3 octets) as MCC‖MNC digits; ValueError for a malformed identity.

    Cached: every AIR and ULR asks, for the same few networks (a malformed one raises and is not kept)."""
    mcc, mnc = plmn_codec.decode(visited_plmn_id)
    return mcc + mnc


class RoamingPolicyCheck:
    """`allowed(subscriber, visited_plmn_id)` for the ULR (5004 ROAMING_NOT_ALLOWED when False)."""

    def __init__(self, home_plmns: Iterable[str], load_rules: Callable[[], list[RoamingRule]],
                 ttl: float = 2.0) -> None:
        self.home_plmns = frozenset(home_plmns)
        self._load_rules = load_rules
        self._ttl = ttl
        self._rules: dict[tuple[str | None, str], bool] = {}
        self._loaded_at = float("-inf")

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")

    def is_home(self, plmn: str) -> bool:
        return plmn in self.home_plmns

    def allowed(self, subscriber: Subscriber, visited_plmn_id: bytes,
                load_rules: Callable[[], list[RoamingRule]] | None = None) -> bool:
        """Home PLMN: always. Otherwise by the subscriber's roaming policy; `rules` looks the PLMN up
        (subscriber rule, then global rule) and denies a PLMN no rule mentions. `load_rules` replaces the
        loader given at construction for this call (the ULR reads them in its own transaction)."""
        plmn = plmn_digits(visited_plmn_id)
        if self.is_home(plmn):
            return True
        if subscriber.roaming_policy is RoamingPolicy.ALLOW_ALL:
            return self._rule(subscriber.imsi, plmn, load_rules) is not False  # an explicit deny still wins
        if subscriber.roaming_policy is RoamingPolicy.HOME_ONLY:
            return False
        return self._rule(subscriber.imsi, plmn, load_rules) is True

    def _rule(self, imsi: str, plmn: str, load_rules: Callable[[], list[RoamingRule]] | None) -> bool | None:
        now = time.monotonic()
        if now - self._loaded_at > self._ttl:
            self._rules = {(r.imsi, r.plmn): r.allowed for r in (load_rules or self._load_rules)()}
            self._loaded_at = now
        own = self._rules.get((imsi, plmn))
        return own if own is not None else self._rules.get((None, plmn))
