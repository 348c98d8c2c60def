"""The feed when the follow list cannot be read (auth down): 503 JSON with Retry-After, never a 500; the rest reads on."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.requests import Request

from titanium.core.settings import BlogSettings
from titanium.services.blog.app import build
from titanium.services.blog.repository import BlogRepository, CategoryRef


class SignedIn:
    """A token checker that takes every request as reader 7's (the subject here is the follow list, not the token)."""

    async def claims_of(self, _request: Request, **_: Any) -> dict[str, Any]:
        return {"user_id": 7, "username": "reader"}

    async def verify(self, _token: str, **_: Any) -> dict[str, Any]:
        return {"user_id": 7, "username": "reader"}


async def test_the_feed_is_503_with_retry_after_when_auth_cannot_be_reached(blog_engine, blog_database, tmp_path):
    await BlogRepository(blog_engine).create_post("Still here", "content", "alice", 1, CategoryRef(name="Ops"))
    # Nothing listens on port 1: every call to auth fails to connect.
    settings = BlogSettings(blog_database_url=blog_database, auth_url="http://127.0.0.1:1", data_dir=tmp_path)
    app = build(settings)
    async with app.router.lifespan_context(app):
        app.state.blog.verifier = SignedIn()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://blog") as client:
            token = {"Authorization": "Bearer anything"}
            for path in ("/blog/api/feed", "/blog/api/feed/count", "/blog/api/posts?favourited=bob"):
                answer = await client.get(path, headers=token)
                assert answer.status_code == 503, (path, answer.text)
                assert answer.headers["retry-after"] == "1"
                assert "detail" in answer.json()
            # What needs no follow list still reads, with the reader's own marks.
            listed = await client.get("/blog/api/posts", headers=token)
            assert listed.status_code == 200 and listed.json()[0]["favourited"] is False
            kept = await client.put(f"/blog/api/posts/{listed.json()[0]['id']}/favourite", headers=token)
            assert kept.status_code == 200 and kept.json()["favourites_count"] == 1
            assert (await client.get("/blog/api/me/favourites", headers=token)).json()[0]["title"] == "Still here"
            page = await client.get("/blog/authors/alice")
            assert page.status_code == 200 and "Still here" in page.text, "the author page goes without the profile"
