"""Bearer-token authentication for every ``/api/`` request, role checks per route, and the audit trail.

Authentication runs as middleware, before FastAPI reads the body, so an unauthenticated client learns
nothing, not even whether its JSON parses. Routes declare the role they need with `require`; the middleware
finds the route a request is for and checks that role too, before the body is read (FastAPI reads and
parses a body before it runs a route's dependencies: a read-only token posting 300 MB would otherwise be
refused only after the upload). The `HTTPBearer` scheme in that dependency is what puts the "Authorize"
button into the interactive docs.
Every write (POST, PUT, PATCH, DELETE) by an authenticated token is recorded in the audit log with its
final status, whatever the outcome; routes add a detail (the names of the fields written, never values).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, APIRouter
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError
from starlette.routing import compile_path

from sigcore.api.context import ApiContext
from sigcore.failure_log import FailureLog
from sigcore.log_limit import RateLimitedLog
from sigcore.store.tokens import ApiToken, Role, forbidden

log = logging.getLogger("sigcore.api")
limited_log = RateLimitedLog(log)
failures = FailureLog(log)
_DRIVERS = frozenset({"sqlite3", "psycopg", "pymysql", "pyodbc"})

API_PREFIX = "/api/"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="sigcore"'}

#: The ASGI scope extension naming the API token of a console session (``{"token_id": N}``). Only the
#: console's in-process requests carry it (sigcore.console.api_client): the ASGI server builds the scope of a
#: request from the wire, and no header or path reaches ``extensions``. The token is checked live as a
#: bearer token would be, so a revoked one is refused the same way.
CONSOLE_TOKEN = "sigcore.console_token"

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
    console = (request.scope.get("extensions") or {}).get(CONSOLE_TOKEN)
    if secret:
        token = await ctx.call(ctx.tokens.authenticate, secret)
    elif console is not None:
        token = await ctx.call(ctx.tokens.live, int(console["token_id"]))
    else:
        token = None
    if token is None:
        log.warning("refused %s %s from %s: %s", request.method, request.url.path,
                    request.client.host if request.client else "?",
                    "unknown or revoked token" if secret or console is not None else "no bearer token")
        return JSONResponse({"detail": "a valid bearer token is required"}, status_code=401,
                            headers=_UNAUTHORIZED_HEADERS)
    request.state.principal = token
    request.state.audit_detail = None
    missing = next((role for role in _required_roles(request) if not token.role.allows(role)), None)
    if missing is not None:
        response: Response = JSONResponse({"detail": forbidden(missing, token)}, status_code=403)
    else:
        try:
            response = await call_next(request)
        except Exception as err:  # a JSON answer and an audit entry, not a text/plain 500 and none
            response = failure_response(request, err)
    if request.method in WRITE_METHODS:
        try:
            await ctx.call(ctx.tokens.audit, token.actor, request.method, request.url.path, response.status_code,
                           request.state.audit_detail, token_id=token.id)
        except Exception as err:  # the database may be what failed (a full disk): the entry goes to the log
            limited_log.error("audit-unstored", "audit entry not stored (%s): %s %s %s by %s -> %d",
                              type(err).__name__, request.method, request.url.path, request.state.audit_detail or "",
                              token.actor, response.status_code)
    return response


@dataclass(frozen=True, slots=True)
class _Guard:
    path: re.Pattern[str]
    methods: frozenset[str]
    roles: tuple[Role, ...]


def role_table(routers: Iterable[APIRouter], prefix: str) -> list[_Guard]:
    """What each route asks for (its `require` dependencies and its router's), by path pattern and method."""
    table = []
    for router in routers:
        router_roles = [getattr(d.dependency, "required_role", None) for d in router.dependencies]
        for route in router.routes:
            if isinstance(route, APIRoute):
                roles = [r for r in router_roles if r is not None] + _roles_of(route.dependant)
                table.append(_Guard(compile_path(prefix + route.path)[0], frozenset(route.methods or ()),
                                    tuple(dict.fromkeys(roles))))
    return table


def _required_roles(request: Request) -> tuple[Role, ...]:
    table: list[_Guard] = request.app.state.role_table
    path, method = request.url.path, request.method
    return next((g.roles for g in table if method in g.methods and g.path.match(path)), ())


def _roles_of(dependant: Any) -> list[Role]:
    roles = [getattr(d.call, "required_role", None) for d in dependant.dependencies]
    nested = [role for d in dependant.dependencies for role in _roles_of(d)]
    return [role for role in roles if role is not None] + nested


def failure_response(request: Request, err: Exception) -> Response:
    """503 when the database failed (a full disk, a lost server), else 500; logged once with the traceback
    per kind, then rate-limited (a full disk fails every write)."""
    database = isinstance(err, SQLAlchemyError) or type(err).__module__.split(".")[0] in _DRIVERS
    failures.failed(f"api-{type(err).__name__}", err, "%s %s failed", request.method, request.url.path)
    if database:
        return JSONResponse({"detail": f"the database failed ({type(err).__name__})"},
                            status_code=503)
    return JSONResponse({"detail": "internal error (logged)"}, status_code=500)


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
            raise HTTPException(403, forbidden(role, token))
        return token

    check.required_role = role  # type: ignore[attr-defined]  # read by the middleware (_required_roles)
    return Depends(check)


READ = require(Role.READ)
PROVISION = require(Role.PROVISION)
ADMIN = require(Role.ADMIN)
