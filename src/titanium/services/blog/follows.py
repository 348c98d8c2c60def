"""What the blog asks the auth service about readers: whom a reader follows, and a username's user id.

The blog keeps no copy of either: the feed reads the follow list at each
request (it changes with every follow, and a copy would need a stream of
its own), through auth, which checks the reader's token again and asks the
users service. When that cannot be answered, the feed cannot be either: the
route answers 503 with Retry-After (a failing dependency degrades the
answer, it never turns into a 500).
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
from fastapi import HTTPException
from starlette.requests import Request

from titanium.core.errors import UNAVAILABLE
from titanium.core.http import propagated_headers
from titanium.core.logging import get_logger
from titanium.core.metrics import UPSTREAM_ERRORS, failure_reason

log = get_logger(__name__)


def unavailable() -> HTTPException:
    return HTTPException(503, UNAVAILABLE, {"Retry-After": "1"})


async def _ask(client: httpx.AsyncClient, request: Request, path: str, headers: dict[str, str]) -> httpx.Response:
    try:
        answer = await client.get(path, headers={**propagated_headers(request), **headers})
    except httpx.HTTPError as exc:
        UPSTREAM_ERRORS.labels("blog", "auth", failure_reason(exc)).inc()
        log.error("auth unreachable", error=repr(exc), path=path)
        raise unavailable() from None
    if answer.status_code >= 500:
        UPSTREAM_ERRORS.labels("blog", "auth", "bad_status").inc()
        log.error("auth failed", status=answer.status_code, path=path)
        raise unavailable()
    return answer


async def followed_ids(client: httpx.AsyncClient, request: Request) -> tuple[int, ...]:
    """The ids of the authors the caller follows (their token sent on); 401 when auth refuses it, 503 when it cannot say."""
    answer = await _ask(client, request, "/auth/following",
                        {"authorization": request.headers.get("authorization", "")})
    if answer.status_code == 401:
        raise HTTPException(401, "sign in to see your feed", {"WWW-Authenticate": "Bearer"})
    try:
        return tuple(sorted({int(each["id"]) for each in answer.raise_for_status().json()["following"]}))
    except (httpx.HTTPStatusError, ValueError, KeyError, TypeError):
        log.error("auth's follow list not understood", status=answer.status_code)
        raise unavailable() from None


async def user_id_of(client: httpx.AsyncClient, request: Request, username: str) -> int | None:
    """The id of the user called `username`, None when there is none; 503 when auth cannot say."""
    answer = await _ask(client, request, f"/auth/users/{quote(username, safe='')}", {})
    if answer.status_code in (404, 422):
        return None
    try:
        return int(answer.raise_for_status().json()["id"])
    except (httpx.HTTPStatusError, ValueError, KeyError, TypeError):
        log.error("auth's profile not understood", status=answer.status_code)
        raise unavailable() from None
