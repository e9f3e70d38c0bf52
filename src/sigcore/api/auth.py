"""Bearer-token authentication for every ``/api/`` request, role checks per route, and the audit trail.

Authentication runs as middleware, before FastAPI reads the body, so an unauthenticated client learns
nothing, not even whether its JSON parses. Routes then declare the role they need with `require`; the
`HTTPBearer` scheme in that dependency is what puts the "Authorize" button into the interactive docs.
Every write (POST, PUT, PATCH, DELETE) by an authenticated token is recorded in the audit log with its
final status, whatever the outcome; routes add a detail (the names of the fields written, never values).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sigcore.api.context import ApiContext
from sigcore.store.tokens import ApiToken, Role

log = logging.getLogger("sigcore.api")

API_PREFIX = "/api/"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="sigcore"'}

bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer sgc_…` (sigcore token create)")


def _bearer_secret(request: Request) -> str | None:
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    return secret.strip() if scheme.lower() == "bearer" and secret.strip() else None


async def authenticate_and_audit(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """HTTP middleware: 401 unless a live token is presented; audit the writes of those that are."""
    path = request.url.path
    if not path.startswith(API_PREFIX) or path in request.app.state.public_paths:
        return await call_next(request)
    ctx: ApiContext = request.app.state.ctx
    secret = _bearer_secret(request)
    token = await ctx.call(ctx.tokens.authenticate, secret) if secret else None
    if token is None:
        log.warning("refused %s %s from %s: %s", request.method, request.url.path,
                    request.client.host if request.client else "?",
                    "no bearer token" if secret is None else "unknown or revoked token")
        return JSONResponse({"detail": "a valid bearer token is required"}, status_code=401,
                            headers=_UNAUTHORIZED_HEADERS)
    request.state.principal = token
    request.state.audit_detail = None
    response = await call_next(request)
    if request.method in WRITE_METHODS:
        try:
            await ctx.call(ctx.tokens.audit, token.actor, request.method, request.url.path, response.status_code,
                           request.state.audit_detail, token_id=token.id)
        except Exception:  # the write happened; failing to audit it must be loud but not hide the answer
            log.exception("could not write the audit entry of %s %s", request.method, request.url.path)
    return response


def audit_detail(request: Request, detail: str) -> None:
    """Attach a detail (field names, counts; never a secret value) to this request's audit entry."""
    request.state.audit_detail = detail


def written_fields(body: dict[str, Any]) -> str:
    return "fields: " + ", ".join(sorted(body)) if body else "no fields"


def require(role: Role) -> Any:
    """A dependency: the request's token, if its role includes `role`; 403 otherwise."""

    async def check(request: Request,
                    _credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> ApiToken:
        token: ApiToken | None = getattr(request.state, "principal", None)
        if token is None:  # only reachable if the middleware is not installed
            raise HTTPException(401, "a valid bearer token is required", headers=_UNAUTHORIZED_HEADERS)
        if not token.role.allows(role):
            raise HTTPException(403, f"this needs a token with role {role.value} (yours: {token.role.value})")
        return token

    return Depends(check)


READ = require(Role.READ)
PROVISION = require(Role.PROVISION)
ADMIN = require(Role.ADMIN)
