"""Console sessions: a random id in an HttpOnly, SameSite=Strict cookie; the bearer token stays on the server.

Sessions live in this process's memory (a restart signs everyone out). Each carries its own CSRF token,
which every form repeats in a hidden field (and scripts in the ``X-CSRF-Token`` header). The role shown is
the token's at sign-in; what may really be done is decided by the API on every request, with the token.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from sigcore.store.tokens import Role

COOKIE = "sigcore_console"
LOGIN_COOKIE = "sigcore_console_login"
IDLE_SECONDS = 3600
MAX_AGE_SECONDS = 12 * 3600
MAX_SESSIONS = 10_000


@dataclass
class Session:
    id: str
    token: str = field(repr=False)
    actor: str
    role: Role
    csrf: str = field(repr=False)
    started: float
    seen: float

    @property
    def can_write(self) -> bool:
        return self.role.allows(Role.PROVISION)

    @property
    def is_admin(self) -> bool:
        return self.role.allows(Role.ADMIN)

    def csrf_matches(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(self.csrf.encode(), (given or "").encode())


class SessionStore:
    """Sessions by id, the least recently used first (dropped beyond `MAX_SESSIONS`)."""

    def __init__(self) -> None:
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._now = time.monotonic

    def create(self, token: str, actor: str, role: Role) -> Session:
        now = self._now()
        session = Session(secrets.token_urlsafe(32), token, actor, role, secrets.token_urlsafe(32), now, now)
        self._sessions[session.id] = session
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return session

    def get(self, session_id: str | None) -> Session | None:
        session = self._sessions.get(session_id or "")
        if session is None:
            return None
        now = self._now()
        if now - session.seen > IDLE_SECONDS or now - session.started > MAX_AGE_SECONDS:
            self.drop(session.id)
            return None
        session.seen = now
        self._sessions.move_to_end(session.id)
        return session

    def drop(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)
