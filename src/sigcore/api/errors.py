"""Errors as HTTP answers: bad input is 422 naming the field, never a 500; unknown 404; taken 409.

FastAPI's own validation answer echoes the rejected ``input``; it is dropped here because the rejected
input may be a (malformed) key.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from sigcore.api.schemas import ErrorOut, ValidationErrorOut
from sigcore.hss.auc import AucError
from sigcore.store.errors import Conflict, InvalidValue, KeyUnavailable, NotFound, StoreError

log = logging.getLogger("sigcore.api")

COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "missing, unknown or revoked bearer token"},
    403: {"model": ErrorOut, "description": "the token's role does not allow this"},
    422: {"model": ValidationErrorOut, "description": "a field is missing or invalid (named in `loc`)"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "no such object"}}
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": ErrorOut, "description": "a unique value is taken"}}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorOut, "description": "the store cannot handle keys (no key-encryption key)"}
}


def field_error(field: str, message: str, kind: str = "value_error") -> JSONResponse:
    body = {"detail": [{"loc": ["body", field], "msg": message, "type": kind}]}
    return JSONResponse(body, status_code=422)


def _invalid_value(_request: Request, err: Exception) -> JSONResponse:
    field, _, reason = str(err).partition(": ")
    return field_error(field, reason or str(err))


def _auc_error(_request: Request, err: Exception) -> JSONResponse:
    return field_error("auts", str(err))


def _validation(_request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, RequestValidationError)
    detail = [
        {"loc": [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
         "type": str(e.get("type", "value_error"))}
        for e in err.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=422)


def _status(code: int) -> Any:
    def handler(_request: Request, err: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, status_code=code)

    return handler


def _key_unavailable(_request: Request, err: Exception) -> JSONResponse:
    log.error("store cannot handle keys: %s", err)
    return JSONResponse({"detail": "the HSS has no key-encryption key configured"}, status_code=503)


def _other_store_error(_request: Request, err: Exception) -> JSONResponse:
    log.error("store error: %s", err)
    return JSONResponse({"detail": f"store unavailable: {type(err).__name__}"}, status_code=503)


async def _http_error(request: Request, err: Exception) -> Response:
    """FastAPI answers a body it cannot decode (not UTF-8, say) with 400; that is a validation failure too."""
    assert isinstance(err, StarletteHTTPException)
    if err.status_code == 400:
        return field_error("body", str(err.detail), "body_unreadable")
    return await http_exception_handler(request, err)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(InvalidValue, _invalid_value)
    app.add_exception_handler(AucError, _auc_error)
    app.add_exception_handler(NotFound, _status(404))
    app.add_exception_handler(Conflict, _status(409))
    app.add_exception_handler(KeyUnavailable, _key_unavailable)
    app.add_exception_handler(StoreError, _other_store_error)
