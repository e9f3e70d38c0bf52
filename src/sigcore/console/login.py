"""Sign in with an API token (exchanged for a session cookie), sign out."""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from sigcore.console.sessions import COOKIE, IDLE_SECONDS, LOGIN_COOKIE, Session
from sigcore.console.web import PREFIX, Refused, form_of, redirect, render, secure_cookies, session, sessions

if TYPE_CHECKING:
    from sigcore.api.context import ApiContext

log = logging.getLogger("sigcore.console")
router = APIRouter()
Current = Annotated[Session, Depends(session)]


def _safe_next(target: str | None) -> str:
    """Only a path inside the console (never another site: no scheme, no '//')."""
    if target and target.startswith(PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target[len(PREFIX):]
    return "/subscribers"


def _login_page(request: Request, status: int = 200, error: str | None = None) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    page = render(request, "login.html", None, status, login_csrf=token, error=error,
                  next=request.query_params.get("next", ""))
    page.set_cookie(LOGIN_COOKIE, token, max_age=600, path=PREFIX, httponly=True, samesite="strict",
                    secure=secure_cookies(request))
    return page


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = await request.form()
    given, expected = str(form.get("csrf", "")), request.cookies.get(LOGIN_COOKIE, "")
    if not given or not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Refused(403, "This sign-in form was refused: its CSRF token is missing or stale. Reload and retry.")
    secret = str(form.get("token", "")).strip()
    ctx: ApiContext = request.app.state.ctx
    token = await ctx.call(ctx.tokens.authenticate, secret) if secret else None
    if token is None:
        log.warning("console sign-in refused from %s", request.client.host if request.client else "?")
        return _login_page(request, 401, "This token is unknown or revoked.")
    created = await ctx.call(sessions(request).create, token)
    await ctx.call(ctx.tokens.audit, token.actor, "LOGIN", PREFIX, 200, "console session", token_id=token.id)
    response = redirect(_safe_next(str(form.get("next", ""))))
    response.set_cookie(COOKIE, created.id, max_age=IDLE_SECONDS * 12, path=PREFIX, httponly=True,
                        samesite="strict", secure=secure_cookies(request))
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX, httponly=True, samesite="strict", secure=secure_cookies(request))
    return response


@router.post("/logout")
async def logout(request: Request, current: Current) -> Response:
    await form_of(request, current)
    ctx: ApiContext = request.app.state.ctx
    await ctx.call(sessions(request).drop, current.id)
    await ctx.call(ctx.tokens.audit, current.actor, "LOGOUT", PREFIX, 200, "console session")
    response = redirect("/login", "signed-out")
    response.delete_cookie(COOKIE, path=PREFIX, httponly=True, samesite="strict", secure=secure_cookies(request))
    return response
