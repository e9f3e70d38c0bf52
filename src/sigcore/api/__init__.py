"""The provisioning REST API (FastAPI, served by uvicorn inside `sigcore run`) and its CLI; see docs/api.md."""

from sigcore.api.app import API_V1, create_app

__all__ = ["API_V1", "create_app"]
