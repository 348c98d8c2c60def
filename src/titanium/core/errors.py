"""Every error answer is JSON with a ``detail`` field; none carries a stack trace.

A dependency that does not answer (a database, Redis, another service: the
errors of the drivers and clients, and the network's own) is a 503 with
Retry-After: the service stays up and the client may try again. Anything
else is a bug: a 500, with its traceback in the log. A missing file or a
permission refused is a bug of ours, not an outage, so an `OSError` is a
503 only when it is the network's (a refused or broken connection, a name
that does not resolve).
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from titanium.core.logging import get_logger

log = get_logger(__name__)

UNAVAILABLE = "a service this request needs is unavailable; try again shortly"
# PostgreSQL's SQLSTATEs of a server that cannot take the query now: class 08
# (connection exception), 53300 (too many connections), 57P01-57P03 (shutting
# down, crashed, starting up). Any other failing query is a bug.
_UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "53300", "57P01", "57P02", "57P03")


def error_response(status_code: int, detail: Any, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status_code, headers=headers)


def dependency_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says a dependency does not answer now (rather than that our code is wrong)."""
    if isinstance(exc, (ConnectionError, socket.gaierror, TimeoutError)):
        return True
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_exc is not None:
        if isinstance(exc, sqlalchemy_exc.TimeoutError):  # every pooled connection busy past the pool's timeout
            return True
        if isinstance(exc, sqlalchemy_exc.DBAPIError):
            sqlstate = getattr(exc.orig, "sqlstate", None) or ""
            return (exc.connection_invalidated or isinstance(exc, (sqlalchemy_exc.OperationalError,
                                                                   sqlalchemy_exc.InterfaceError))
                    or sqlstate.startswith(_UNAVAILABLE_SQLSTATE_PREFIXES))
    return isinstance(exc, _client_errors())


def _client_errors() -> tuple[type[Exception], ...]:
    """The connection errors of the clients this process loaded (a process that never imported one cannot meet its errors)."""
    found: list[type[Exception]] = []
    if (httpx := sys.modules.get("httpx")) is not None:
        found.append(httpx.TransportError)
    if (aiohttp := sys.modules.get("aiohttp")) is not None:
        found.append(aiohttp.ClientConnectionError)
    if (redis_exceptions := sys.modules.get("redis.exceptions")) is not None:
        found += [redis_exceptions.ConnectionError, redis_exceptions.TimeoutError]
    return tuple(found)


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


async def _failure(request: Request, exc: Exception) -> Response:
    """503 for a dependency that does not answer (the service stays up); else a bug: 500, traceback logged."""
    if dependency_unavailable(exc):
        log.error("dependency unavailable", path=request.url.path, method=request.method, error=repr(exc))
        return error_response(503, UNAVAILABLE, {"Retry-After": "1"})
    log.exception("unhandled error", path=request.url.path, method=request.method, error=repr(exc),
                  exc_info=exc)
    return error_response(500, "Internal server error")


def install_error_handlers(app: Starlette, *, fastapi: bool) -> None:
    """JSON answers for every error the app can meet; FastAPI's validation errors too on a FastAPI app.

    The dependencies' errors are answered inside the app, so that the
    request's figures and access line carry the 503 the client got; any
    other exception reaches Starlette's outermost handler, past them, as the
    500 they record. Call it once the service's modules are imported: the
    clients' errors are those of the clients loaded by then. FastAPI is
    imported only for a FastAPI app: the gateway runs on Starlette alone.
    """
    app.add_exception_handler(HTTPException, _http_error)
    if fastapi:
        from fastapi.exceptions import RequestValidationError

        app.add_exception_handler(RequestValidationError, _validation_error)
    for kind in _dependency_error_classes():
        app.add_exception_handler(kind, _failure)
    app.add_exception_handler(Exception, _failure)


def _dependency_error_classes() -> tuple[type[Exception], ...]:
    found: tuple[type[Exception], ...] = (ConnectionError, socket.gaierror, TimeoutError, *_client_errors())
    if (sqlalchemy_exc := sys.modules.get("sqlalchemy.exc")) is not None:
        # Which of these are a dependency's is decided per error (dependency_unavailable).
        found += (sqlalchemy_exc.DBAPIError, sqlalchemy_exc.TimeoutError)
    return found
