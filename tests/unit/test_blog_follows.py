"""What the blog makes of auth's answers about follows: the list, a refusal (401), and a failure (503, not a 500)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import HTTPException
from starlette.requests import Request

from titanium.services.blog.follows import followed_ids, user_id_of


def _request() -> Request:
    return Request({"type": "http", "method": "GET", "path": "/blog/api/feed", "headers": [(b"authorization", b"Bearer abc")]})


def _client(answer: httpx.Response | Exception) -> httpx.AsyncClient:
    def handle(request: httpx.Request) -> httpx.Response:
        if isinstance(answer, Exception):
            raise answer
        assert request.headers.get("authorization") in ("Bearer abc", None)
        return answer

    return httpx.AsyncClient(transport=httpx.MockTransport(handle), base_url="http://auth")


async def test_the_follow_list_is_the_ids_of_the_followed():
    following = {"user_id": 1, "following": [{"id": 7, "username": "b"}, {"id": 3, "username": "a"}]}
    assert await followed_ids(_client(httpx.Response(200, json=following)), _request()) == (3, 7)


@pytest.mark.parametrize(("answer", "status"), [
    (httpx.Response(401, json={"detail": "expired"}), 401),
    (httpx.Response(503, json={"detail": "down"}), 503),
    (httpx.Response(500, text="oops"), 503),
    (httpx.Response(200, text="not json"), 503),
    (httpx.Response(200, json={"following": [{"name": "no id"}]}), 503),
    (httpx.Response(404, json={"detail": "?"}), 503),
    (httpx.ConnectError("refused"), 503),
    (httpx.ReadTimeout("slow"), 503),
])
async def test_a_refusal_is_401_and_any_failure_503_with_retry_after(answer, status):
    with pytest.raises(HTTPException) as raised:
        await followed_ids(_client(answer), _request())
    assert raised.value.status_code == status
    if status == 503:
        assert raised.value.headers == {"Retry-After": "1"}


async def test_a_username_is_looked_up_and_an_unknown_one_is_none():
    assert await user_id_of(_client(httpx.Response(200, json={"id": 5, "username": "x"})), _request(), "x") == 5
    assert await user_id_of(_client(httpx.Response(404, json={"detail": "no"})), _request(), "x") is None
    with pytest.raises(HTTPException) as raised:
        await user_id_of(_client(httpx.ConnectError("refused")), _request(), "x")
    assert raised.value.status_code == 503
