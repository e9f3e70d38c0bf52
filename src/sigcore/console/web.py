"""What every console page shares: templates, the session, the CSRF check, the API client and the headers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.datastructures import FormData

from sigcore.console.api_client import ApiAnswer, ApiClient
from sigcore.console.forms import FormErrors, api_errors
from sigcore.console.sessions import COOKIE, Session, SessionStore

if TYPE_CHECKING:
    from sigcore.api.context import ApiContext

PREFIX = "/console"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
NOTICES = {
    "saved": "Saved.", "created": "Created.", "deleted": "Deleted.", "keys": "Keys replaced.",
    "deregistered": "Deregistration sent to the S-CSCF.", "signed-out": "Signed out.",
}


class Redirect(Exception):
    """Raised by dependencies (no session, a revoked token): answered with a 303 to `location`."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class Refused(Exception):
    """A request the console refuses itself (no CSRF token): answered with a page saying why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _when(value: Any) -> str:
    if not value:
        return ""
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _bitrate(value: Any) -> str:
    number = int(value or 0)
    for unit, size in (("Gbit/s", 10**9), ("Mbit/s", 10**6), ("kbit/s", 10**3)):
        if number >= size and number % (size // 1000 or 1) == 0:
            return f"{number / size:g} {unit}"
    return f"{number} bit/s"


def _ambr(ul: Any, dl: Any) -> str:
    """Both zero: no AMBR is sent (the MME applies its own), which is not "0 bit/s"."""
    if not ul and not dl:
        return "not set"
    return f"{_bitrate(ul)} up, {_bitrate(dl)} down"


templates = Environment(loader=PackageLoader("sigcore.console", "templates"),
                        autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)
templates.filters["when"] = _when
templates.globals["ambr"] = _ambr
templates.filters["segment"] = lambda v: quote(str(v), safe="")


def sessions(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.console_sessions
    return store


def secure_cookies(request: Request) -> bool:
    return request.url.scheme == "https"


async def session(request: Request) -> Session:
    """The signed-in session (a dependency); without one, a redirect to the sign-in page."""
    ctx: ApiContext = request.app.state.ctx
    found = await ctx.call(sessions(request).get, request.cookies.get(COOKIE))
    if found is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise Redirect(f"{PREFIX}/login?next={quote(target, safe='')}")
    request.state.console_session = found
    return found


def api(request: Request, current: Session) -> ApiClient:
    client = (request.client.host, request.client.port) if request.client else None
    return ApiClient(request.app, current.token_id, client)


def checked(_request: Request, answer: ApiAnswer) -> ApiAnswer:
    """401 from the API: the token was revoked since sign-in; back to sign-in (the session's next lookup
    finds the token revoked and removes it)."""
    if answer.status == 401:
        raise Redirect(f"{PREFIX}/login")
    return answer


def stop_if_refused(answer: ApiAnswer) -> None:
    """The API refused the role (403) or the object is gone (404): a page saying so, not the form again."""
    if answer.status in (403, 404):
        raise Refused(answer.status, answer.message())


async def form_of(request: Request, current: Session) -> FormData:
    """The posted form, once its CSRF token is checked (a form without it is refused, whatever it holds)."""
    form = await request.form()
    given = form.get("csrf") or request.headers.get("x-csrf-token")
    if not current.csrf_matches(given if isinstance(given, str) else None):
        raise Refused(403, "This form was refused: its CSRF token is missing or does not belong to your session. "
                           "Reload the page and try again.")
    return form


def require_csrf_header(request: Request, current: Session) -> None:
    if not current.csrf_matches(request.headers.get("x-csrf-token")):
        raise Refused(403, "refused: the X-CSRF-Token header is missing or wrong")


async def submit(request: Request, current: Session, errors: FormErrors, method: str, path: str, body: Any,
                 fields: Iterable[str], then: Callable[[Any], str], done: str) -> Response | None:
    """Send a form's body to the API (unless the form has errors already): a redirect to `then(answer)`
    when done, a refusal page for a 403/404, else None with the API's messages added to `errors`."""
    if errors:
        return None
    answer = checked(request, await api(request, current).request(method, path, body))
    if answer.ok:
        return redirect(then(answer.body), done)
    stop_if_refused(answer)
    api_errors(answer, errors, fields)
    return None


async def act(request: Request, current: Session, method: str, path: str, body: Any, then: str,
              done: str) -> Response:
    """A form with nothing to correct (delete, deregister): do it and go to `then`, or say why not."""
    answer = checked(request, await api(request, current).request(method, path, body))
    if not answer.ok:
        raise Refused(answer.status, answer.message())
    return redirect(then, done)


def render(request: Request, name: str, current: Session | None, status: int = 200, **values: Any) -> HTMLResponse:
    notice = NOTICES.get(request.query_params.get("done", ""))
    html = templates.get_template(name).render(request=request, session=current, prefix=PREFIX, notice=notice,
                                               **values)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def redirect(path: str, done: str | None = None) -> RedirectResponse:
    suffix = ("&" if "?" in path else "?") + f"done={done}" if done else ""
    return RedirectResponse(PREFIX + path + suffix, status_code=303, headers=SECURITY_HEADERS)


def headers(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {**SECURITY_HEADERS, **(extra or {})}


def plain(status: int, text: str) -> Response:
    return Response(text, status_code=status, media_type="text/plain", headers=SECURITY_HEADERS)
