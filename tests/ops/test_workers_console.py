"""The web console under `sigcore run --workers 2`: the API port is shared, so a browser's requests reach
either worker (a browser opens several connections); a session signed in on one must hold on the other."""

from __future__ import annotations

import re

import httpx
import pytest
from sigcore_process import Sigcore

pytestmark = [pytest.mark.interop, pytest.mark.slow]
PAGES = 16


def _fresh_connection_client(base_url: str) -> httpx.Client:
    """No keep-alive: every request opens a connection, which the kernel hands to either worker."""
    return httpx.Client(base_url=base_url, timeout=30, limits=httpx.Limits(max_keepalive_connections=0))


def test_a_console_session_holds_on_every_worker(sigcore: Sigcore) -> None:
    created = sigcore.command("token", "create", "--role", "provision", "--name", "operator")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    run = sigcore.start("--workers", "2", wait=False)
    for index in (0, 1):
        run.wait_for(rf"\[worker {index}\] sigcore \S+ \(\S+\) running", timeout=90)
    with _fresh_connection_client(sigcore.api_url) as http:
        page = http.get("/console/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None, page.text
        signed_in = http.post("/console/login", data={"csrf": csrf.group(1), "token": secret})
        assert signed_in.status_code == 303, signed_in.text
        assert "sigcore_console" in http.cookies
        outcomes = []
        for _ in range(PAGES):
            answer = http.get("/console/subscribers")
            outcomes.append("signed in" if answer.status_code == 200 else answer.headers.get("location", ""))
        assert outcomes == ["signed in"] * PAGES, outcomes
        token = re.search(r'name="csrf" value="([^"]+)"', http.get("/console/subscribers").text)
        assert token is not None
        signed_out = http.post("/console/logout", data={"csrf": token.group(1)})
        assert signed_out.status_code == 303
        # the sign-out holds on every worker too: the cookie the browser still had is refused everywhere
        http.cookies.set("sigcore_console", signed_in.cookies["sigcore_console"], path="/console")
        after = [http.get("/console/subscribers").status_code for _ in range(PAGES)]
        assert after == [303] * PAGES, after
