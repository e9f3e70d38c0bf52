"""The web console for operators at ``/console/``: server-rendered pages over the REST API (nothing else).

`mount_console(app)` adds it to the API's FastAPI app, so it is served on ``api.listen`` by ``sigcore run``;
its sessions live in the store of the app's ``state.ctx``. Every read and write goes through the REST API's
routes in process, as the signed-in token (see `sigcore.console.api_client`): roles, validation, the
audit log and IDR/CLR behave as for any API client.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from sigcore.console import login, monitoring, provisioning, subscribers
from sigcore.console.sessions import SessionStore
from sigcore.console.web import PREFIX, SECURITY_HEADERS, Redirect, Refused, render


def _redirect(_request: Request, err: Exception) -> Response:
    assert isinstance(err, Redirect)
    return RedirectResponse(err.location, status_code=303, headers=SECURITY_HEADERS)


def _refused(request: Request, err: Exception) -> Response:
    assert isinstance(err, Refused)
    current = getattr(request.state, "console_session", None)
    return render(request, "error.html", current, err.status, message=err.message)


def mount_console(app: FastAPI) -> None:
    """Serve the console under ``/console/`` on `app` (the REST API's app): pages, static files, sessions."""
    app.state.console_sessions = SessionStore(app.state.ctx.store)
    for module in (login, subscribers, provisioning, monitoring):
        app.include_router(module.router, prefix=PREFIX, include_in_schema=False)

    @app.get(PREFIX, include_in_schema=False)
    @app.get(PREFIX + "/", include_in_schema=False)
    async def home() -> Response:
        return RedirectResponse(PREFIX + "/subscribers", status_code=303, headers=SECURITY_HEADERS)

    static = StaticFiles(directory=str(files("sigcore.console") / "static"))
    app.mount(PREFIX + "/static", static, name="console-static")
    app.add_exception_handler(Redirect, _redirect)
    app.add_exception_handler(Refused, _refused)
