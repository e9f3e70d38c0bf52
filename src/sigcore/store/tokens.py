"""API bearer tokens (stored as SHA-256 digests) and the audit log of every provisioning write.

A token is 32 random bytes (``sgc_`` + URL-safe base64); only its SHA-256 digest and a short prefix (to
tell tokens apart in listings) reach the database. A plain hash is enough here: the secret has 256 bits
of entropy, so no dictionary or brute-force attack on a leaked digest is possible, and a fast hash keeps
per-request authentication cheap. A stolen database therefore yields no usable token.

The audit log records who (token name and id, or ``cli:<user>``), what (method, path, target, a
short detail without any secret value) and when, for every write of the API and the CLI.
"""

from __future__ import annotations

import builtins
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update

from sigcore.store import validate as v
from sigcore.store.base import StoreBase, as_utc, new_id, utc_now
from sigcore.store.errors import InvalidValue, NotFound
from sigcore.store.tokens_models import SHOWN_PREFIX_LEN, api_tokens, audit_log

TOKEN_PREFIX = "sgc_"
TOKEN_BYTES = 32


class Role(StrEnum):
    """What a token may do; each role includes the ones before it."""

    READ = "read"
    PROVISION = "provision"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        order = list(Role)
        return order.index(self) >= order.index(needed)



_BY_DIGEST = select(api_tokens).where(api_tokens.c.token_sha256 == bindparam("digest"))


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: int
    name: str
    role: Role
    prefix: str
    created_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @property
    def actor(self) -> str:
        return f"token:{self.name}#{self.id}"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: `secret` is shown once to its creator and never stored."""

    secret: str
    token: ApiToken

    def __repr__(self) -> str:
        return f"IssuedToken(token={self.token!r})"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: dt.datetime | None
    actor: str
    token_id: int | None
    action: str
    target: str
    status: int
    detail: str | None


def forbidden(needed: Role, token: ApiToken) -> str:
    """Why `token` may not do what needs the role `needed` (the REST API's 403, JSON-RPC's too)."""
    return f"this needs a token with role {needed.value} (yours: {token.role.value})"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_from_row(m: Any) -> ApiToken:
    """An `ApiToken` from a row of ``api_tokens`` (its mapping; other tables' columns may be beside it)."""
    return ApiToken(m["id"], m["name"], Role(m["role"]), m["prefix"], as_utc(m["created_at"]),
                    as_utc(m["revoked_at"]))


class TokenRepository:
    """Tokens and audit entries in the subscriber store's database (see the module docstring)."""

    def __init__(self, store: StoreBase) -> None:
        self.store = store

    def create(self, role: Role | str, name: str = "") -> IssuedToken:
        role = v.choice("role", Role, str(role))
        name = name.strip() or f"{role.value}-token"
        if len(name) > 100:
            raise InvalidValue("name: at most 100 characters")
        if not name.isprintable():  # names reach the audit trail and log lines: no newlines, no escapes
            raise InvalidValue("name: printable characters only (no newlines or other control characters)")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
        prefix = secret[:SHOWN_PREFIX_LEN]
        created_at = utc_now()
        values = {"name": name, "role": role.value, "token_sha256": digest(secret), "prefix": prefix,
                  "created_at": created_at}
        with self.store.writing() as conn:
            token_id = new_id(conn.execute(insert(api_tokens), values))
        return IssuedToken(secret, ApiToken(token_id, name, role, prefix, created_at, None))

    def authenticate(self, secret: str) -> ApiToken | None:
        """The live token whose digest matches `secret`, or None (unknown, malformed or revoked)."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        wanted = digest(secret)
        with self.store.reading() as conn:
            row = conn.execute(_BY_DIGEST, {"digest": wanted}).first()
        if row is None or not hmac.compare_digest(row.token_sha256, wanted) or row.revoked_at is not None:
            return None
        return token_from_row(row._mapping)

    def live(self, token_id: int) -> ApiToken | None:
        """The token `token_id` unless it is unknown or revoked (a console session names its token by id)."""
        try:
            token = self.get(token_id)
        except NotFound:
            return None
        return token if token.revoked_at is None else None

    def get(self, token_id: int) -> ApiToken:
        with self.store.reading() as conn:
            row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()
        if row is None:
            raise NotFound(f"no API token {token_id}")
        return token_from_row(row._mapping)

    def list(self, include_revoked: bool = False) -> list[ApiToken]:
        query = select(api_tokens).order_by(api_tokens.c.id)
        if not include_revoked:
            query = query.where(api_tokens.c.revoked_at.is_(None))
        with self.store.reading() as conn:
            return [token_from_row(r._mapping) for r in conn.execute(query)]

    def revoke(self, token_id: int) -> ApiToken:
        with self.store.writing() as conn:
            done = conn.execute(update(api_tokens).where(api_tokens.c.id == token_id,
                                                         api_tokens.c.revoked_at.is_(None)),
                                {"revoked_at": utc_now()})
        if done.rowcount != 1:
            self.get(token_id)  # NotFound if it never existed
            raise NotFound(f"API token {token_id} is already revoked")
        return self.get(token_id)

    # -- audit ----------------------------------------------------------------------------------------

    def audit(self, actor: str, action: str, target: str, status: int, detail: str | None = None,
              token_id: int | None = None) -> None:
        values = {"at": utc_now(), "actor": actor[:120], "token_id": token_id, "action": action[:16],
                  "target": target[:255], "status": status, "detail": detail[:1000] if detail else None}
        with self.store.writing() as conn:
            conn.execute(insert(audit_log), values)

    def audit_entries(self, offset: int = 0, limit: int = 100, actor: str | None = None,
                      since: dt.datetime | None = None) -> tuple[builtins.list[AuditEntry], int]:
        """A page of the log, newest first, and the total matching count."""
        query = select(audit_log)
        if actor:
            query = query.where(audit_log.c.actor == actor)
        if since is not None:
            query = query.where(audit_log.c.at >= since)
        count = select(func.count()).select_from(query.subquery())
        page = query.order_by(audit_log.c.id.desc()).offset(max(offset, 0)).limit(max(min(limit, 1000), 0))
        with self.store.reading() as conn:
            total = int(conn.execute(count).scalar_one())
            rows = [r._mapping for r in conn.execute(page)]
        return [AuditEntry(r["id"], as_utc(r["at"]), r["actor"], r["token_id"], r["action"], r["target"],
                           r["status"], r["detail"]) for r in rows], total
