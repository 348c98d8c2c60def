"""Every error answer is JSON with a ``detail`` field; none carries a stack trace."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from titanium.core.logging import get_logger

log = get_logger(__name__)


def error_response(status_code: int, detail: Any, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status_code, headers=headers)


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return error_response(exc.status_code, exc.detail, exc.headers)


async def _validation_error(_request: Request, exc: Exception) -> Response:
    return error_response(422, [_public_error(error) for error in exc.errors()])  # type: ignore[attr-defined]


def _public_error(error: dict[str, Any]) -> dict[str, Any]:
    # The rejected value ("input") may be a password; "ctx" may hold an
    # exception object that is not JSON. Location, message and type suffice.
    return {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type", "")}


async def _dependency_error(request: Request, exc: Exception) -> Response:
    """A database or another server that does not answer: 503, try again; the service stays up."""
    log.error("dependency unavailable", path=request.url.path, method=request.method, error=repr(exc))
    return error_response(503, "a service this request needs is unavailable; try again shortly", {"Retry-After": "1"})


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", path=request.url.path, method=request.method, error=repr(exc))
    return error_response(500, "Internal server error")


def install_error_handlers(app: Starlette, *, fastapi: bool) -> None:
    """JSON answers for every error the app can meet; FastAPI's validation errors too on a FastAPI app.

    FastAPI is imported only for a FastAPI app: the gateway runs on Starlette alone.
    """
    app.add_exception_handler(HTTPException, _http_error)
    if fastapi:
        from fastapi.exceptions import RequestValidationError

        app.add_exception_handler(RequestValidationError, _validation_error)
    for unavailable in (OSError, TimeoutError):
        app.add_exception_handler(unavailable, _dependency_error)
    app.add_exception_handler(Exception, _unexpected_error)


def install_database_error_handler(app: Starlette) -> None:
    """For a service with a database: one that does not answer is a 503; a failing query is a bug, a 500."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    async def database_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DBAPIError)
        if exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError)):
            return await _dependency_error(request, exc)
        return await _unexpected_error(request, exc)

    app.add_exception_handler(DBAPIError, database_error)
