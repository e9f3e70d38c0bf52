"""A console user over plain HTTP (httpx): sign in, read the forms a page offers, post them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import httpx


@dataclass
class Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._current: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post":
            self._current = Form(a["action"])
            self.forms.append(self._current)
        elif tag in ("input", "select") and self._current is not None and a.get("name"):
            if a.get("type") in ("checkbox", "file") and "checked" not in a:
                return
            self._current.fields[a["name"]] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def post_forms(html: str) -> list[Form]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


class ConsoleUser:
    """A browser-like client of the console; every response body is kept in `bodies`."""

    def __init__(self, base_url: str, bodies: list[str] | None = None) -> None:
        self.bodies = bodies if bodies is not None else []
        self.http = httpx.Client(base_url=base_url, timeout=30, follow_redirects=True,
                                 event_hooks={"response": [self._keep]})

    def _keep(self, response: httpx.Response) -> None:
        response.read()
        self.bodies.append(response.text)

    def login(self, token: str) -> httpx.Response:
        page = self.http.get("/console/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        return self.http.post("/console/login", data={"csrf": csrf.group(1), "token": token})

    def csrf(self) -> str:
        page = self.http.get("/console/subscribers")
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found is not None, "not signed in"
        return found.group(1)

    def close(self) -> None:
        self.http.close()
