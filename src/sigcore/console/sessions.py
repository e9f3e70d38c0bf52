"""Console sessions: a random id in an HttpOnly, SameSite=Strict cookie; the bearer token never leaves sign-in.

Sessions are rows of the store's database (``console_sessions``), so every process serving the API sees
them (``sigcore run --workers``: a browser's connections reach any worker) and a restart signs nobody out.
A row holds the SHA-256 of the cookie's value and the id of the API token signed in with, never either
secret: a copy of the database opens no session. Each session carries its own CSRF token, which every form
repeats in a hidden field (and scripts in the ``X-CSRF-Token`` header). The role shown is the token's; what
may really be done is decided by the API on every request, as that token. A revoked token ends its
sessions at their next request.

The methods block on the database: call them through ``ApiContext.call``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import bindparam, delete, func, insert, select, update

from sigcore.store.base import StoreBase
from sigcore.store.tokens import ApiToken, Role, token_from_row
from sigcore.store.tokens_models import api_tokens, console_sessions

COOKIE = "sigcore_console"
LOGIN_COOKIE = "sigcore_console_login"
IDLE_SECONDS = 3600
MAX_AGE_SECONDS = 12 * 3600
MAX_SESSIONS = 10_000
#: a session's last use is written at most this often (a page view is not a database write)
SEEN_GRANULARITY = 60


@dataclass
class Session:
    id: str = field(repr=False)
    token_id: int
    actor: str
    role: Role
    csrf: str = field(repr=False)
    started: int
    seen: int

    @property
    def can_write(self) -> bool:
        return self.role.allows(Role.PROVISION)

    @property
    def is_admin(self) -> bool:
        return self.role.allows(Role.ADMIN)

    def csrf_matches(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(self.csrf.encode(), (given or "").encode())


#: a session with its token's columns (None when the token is gone)
_WITH_TOKEN = (select(console_sessions, api_tokens)
               .outerjoin(api_tokens, api_tokens.c.id == console_sessions.c.token_id)
               .where(console_sessions.c.id_sha256 == bindparam("key")))


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """Sessions in `store`'s database; past `MAX_SESSIONS` the least recently used are dropped."""

    def __init__(self, store: StoreBase, now: Callable[[], float] = time.time) -> None:
        self.store = store
        self._now = now

    def create(self, token: ApiToken) -> Session:
        now = int(self._now())
        session = Session(secrets.token_urlsafe(32), token.id, token.actor, token.role, secrets.token_urlsafe(32),
                          now, now)
        key = _digest(session.id)
        table = console_sessions.c
        with self.store.writing() as conn:
            conn.execute(delete(console_sessions).where(
                (table.seen_at < now - IDLE_SECONDS) | (table.started_at < now - MAX_AGE_SECONDS)))
            conn.execute(insert(console_sessions).values(id_sha256=key, token_id=token.id, csrf=session.csrf,
                                                         started_at=now, seen_at=now))
            if conn.execute(select(func.count()).select_from(console_sessions)).scalar_one() > MAX_SESSIONS:
                cutoff = conn.execute(select(table.seen_at).order_by(table.seen_at.desc())
                                      .offset(MAX_SESSIONS).limit(1)).scalar_one()
                conn.execute(delete(console_sessions).where(table.seen_at <= cutoff, table.id_sha256 != key))
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session of this cookie value; None (and the row gone) once idle, too old or its token
        revoked."""
        if not session_id:
            return None
        key = _digest(session_id)
        with self.store.reading() as conn:  # the session and its token in one read
            row = conn.execute(_WITH_TOKEN, {"key": key}).first()
        if row is None:
            return None
        now = int(self._now())
        token = None if row.revoked_at is not None or row.id is None else token_from_row(row._mapping)
        if token is None or now - row.seen_at > IDLE_SECONDS or now - row.started_at > MAX_AGE_SECONDS:
            self.drop(session_id)
            return None
        if now - row.seen_at >= SEEN_GRANULARITY:
            with self.store.writing() as conn:
                conn.execute(update(console_sessions).where(console_sessions.c.id_sha256 == key).values(seen_at=now))
        return Session(session_id, token.id, token.actor, token.role, row.csrf, row.started_at, now)

    def drop(self, session_id: str) -> None:
        with self.store.writing() as conn:
            conn.execute(delete(console_sessions).where(console_sessions.c.id_sha256 == _digest(session_id)))
