"""The two hot reads, answered without FastAPI's dependency solving when their parameters are plainly valid.

Under the post-list load FastAPI's `solve_dependencies` took a fifth of the
blog's time (py-spy), more than the endpoint and its cache lookup together.
Nearly every real request is plain: `?limit=20`, `?offset=40&limit=20`, a
post id written in digits. For those the route calls its endpoint directly.
Anything else (an unknown or repeated parameter, a value out of range, a
leading zero, a control character) takes FastAPI's full way, so every 422
is FastAPI's own. The routes stay declared as they are, for the OpenAPI
document and the fuzzers that read it.

What "plain" accepts must be a part of what FastAPI accepts, giving the same
values: tests/unit/test_plain_reads.py checks that against FastAPI itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from titanium.core.routes import Endpoint, Handler, with_behaviour

# The endpoint's arguments for a plain request; None sends it the full way.
PlainArguments = Callable[[Scope], dict[str, Any] | None]

MAX_ID = 2**31 - 1  # the columns are 32-bit integers


def plain_int(text: str, low: int, high: int) -> int | None:
    """`text` as an int in [low, high] when written plainly: ASCII digits, no leading zero."""
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or (text[0] == "0" and len(text) > 1):
        return None
    value = int(text)
    return value if low <= value <= high else None


def _has_token(scope: Scope) -> bool:
    # A reader's token asks for their own view (`favourited`): the full way, not the cached one.
    return any(name == b"authorization" for name, _ in scope.get("headers", ()))


def list_arguments(scope: Scope) -> dict[str, Any] | None:
    """`GET /blog/api/posts`: offset, limit and category, when each is plain (and no token)."""
    if _has_token(scope):
        return None
    # The filters and the cursor (community_routes.py) are never plain: absent here, as FastAPI would give them.
    arguments: dict[str, Any] = {"offset": 0, "limit": 20, "category": None, "tag": None, "author": None,
                                 "favourited": None, "cursor": None}
    seen = set()
    for name, value in QueryParams(scope["query_string"]).multi_items():
        if name in seen:
            return None  # repeated: FastAPI's rule for which one counts decides
        seen.add(name)
        if name == "offset":
            arguments["offset"] = plain_int(value, 0, MAX_ID)
        elif name == "limit":
            arguments["limit"] = plain_int(value, 1, 100)
        elif name == "category":
            arguments["category"] = value if 0 < len(value) <= 60 and value.isprintable() else None
        else:
            return None
        if arguments[name] is None:
            return None
    arguments["service"] = scope["app"].state.blog
    return arguments


def post_arguments(scope: Scope) -> dict[str, Any] | None:
    """`GET /blog/api/posts/{post_id}`: the id, when it is plain (the query string is not read) and no token."""
    if _has_token(scope):
        return None
    post_id = plain_int(scope["path_params"]["post_id"], 1, MAX_ID)
    if post_id is None:
        return None
    return {"post_id": post_id, "service": scope["app"].state.blog}


def plain_read(plain: PlainArguments) -> Callable[[Endpoint], Endpoint]:
    """Declare that the decorated read route calls its endpoint directly for the requests `plain` gives arguments for."""

    def behaviour(route: APIRoute, full: Handler) -> Handler:
        endpoint = route.endpoint

        async def handler(request: Request) -> Response:
            arguments = plain(request.scope)
            if arguments is None:
                return await full(request)
            response: Response = await endpoint(**arguments)
            return response

        return handler

    return with_behaviour(behaviour)
