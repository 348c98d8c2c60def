"""Errors as RealWorld clients read them: `{"errors": {"body": ["..."]}}` (the spec's GenericErrorModel).

Each answer also keeps the platform's `detail`, so that an operator's tools
read it as they read every other service's. An upstream's refusal keeps its
status (401, 403, 404, 422, 429 with its Retry-After, 503) and its words.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from titanium.core.errors import _public_error as public_error
from titanium.core.logging import get_logger

log = get_logger(__name__)
# The headers of an upstream refusal that the client needs to act on it.
_KEPT_HEADERS = ("retry-after", "www-authenticate")
# What the adapter answers for an upstream status it did not expect: the client's fault stays its own.
_PASSED_THROUGH = frozenset({400, 401, 403, 404, 409, 413, 422, 429, 503, 504})


Responses = dict[int | str, dict[str, Any]]
ERRORS: Responses = {
    401: {"description": "No token, or one the platform does not accept"},
    422: {"description": "Invalid input: `{\"errors\": {\"body\": [...]}}`"},
    429: {"description": "Too many attempts (Retry-After)"},
    503: {"description": "A service this needs is unavailable (Retry-After)"},
}
NOT_FOUND_USER: Responses = {404: {"description": "No such user"}}
NOT_FOUND: Responses = {404: {"description": "No such article (or not yet published)"}}
FORBIDDEN: Responses = {403: {"description": "Only the author may change or delete it"}}


def messages(detail: Any) -> list[str]:
    """The platform's `detail` (a sentence, or FastAPI's list of field errors) as RealWorld's list of sentences."""
    if isinstance(detail, list):
        return [_field_message(error) if isinstance(error, dict) else str(error) for error in detail]
    return [str(detail)]


def _field_message(error: dict[str, Any]) -> str:
    # ("body", "user", "email") -> "user.email: ..."; the transport's own parts of the location are left out.
    where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path"))
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid"))


def refused(answer: httpx.Response) -> HTTPException:
    """The client's error for an upstream answer that is not the one expected."""
    try:
        detail = answer.json().get("detail", answer.reason_phrase)
    except ValueError:
        detail = answer.reason_phrase
    status = answer.status_code if answer.status_code in _PASSED_THROUGH else 502
    if status == 502:
        log.error("unexpected upstream answer", status=answer.status_code, url=str(answer.request.url.path))
        detail = "a service this request needs answered wrongly; try again later"
    headers = {name: value for name in _KEPT_HEADERS if (value := answer.headers.get(name)) is not None}
    return HTTPException(status, detail, headers or None)


def expect(answer: httpx.Response, *statuses: int) -> Any:
    """The JSON of an answer with one of `statuses` (200 when none given); otherwise the client's error."""
    if answer.status_code not in (statuses or (200,)):
        raise refused(answer)
    return answer.json() if answer.content else None


def _body(status_code: int, detail: Any, headers: Any = None) -> Response:
    if status_code in (204, 304):
        return Response(status_code=status_code, headers=headers)
    return JSONResponse({"errors": {"body": messages(detail)}, "detail": detail}, status_code, headers)


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # FastAPI's is one; the router's own 404 and 405 are Starlette's
    return _body(exc.status_code, exc.detail, exc.headers)


async def _invalid(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return _body(422, [public_error(error) for error in exc.errors()])


def install(app: FastAPI) -> None:
    """RealWorld's error shape for this app's refusals (the platform's own shape for its failures: 500, 503)."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid)
