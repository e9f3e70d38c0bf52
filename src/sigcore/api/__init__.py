"""The provisioning REST API (FastAPI, served by uvicorn inside `sigcore run`) and its CLI; see docs/api.md.

`create_app` and `API_V1` are imported on first use: importing FastAPI takes about half a second, and
every `sigcore` command imports this package for its CLI, most of them without serving anything."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sigcore.api.app import API_V1, create_app

__all__ = ["API_V1", "create_app"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sigcore.api import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
