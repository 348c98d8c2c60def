"""The comments service on SQLite and PostgreSQL: who may delete, a deleted post's comments, the rate
limits, inert Markdown, and the count events in its outbox (written with the change, delivered after a restart)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import httpx
import pytest
from fastapi import HTTPException
from sqlalchemy import func, select

from tests.platform.test_blog_pages import Elements
from titanium.core.database import create_engine
from titanium.core.outbox import Event, OutboxRelay
from titanium.core.settings import BlogSettings, CommentsSettings
from titanium.services.blog.app import build as build_blog
from titanium.services.blog.repository import BlogRepository, CategoryRef
from titanium.services.comments.app import build
from titanium.services.comments.blog_link import BlogUnavailable
from titanium.services.comments.repository import COUNT_CHANGED, CommentRepository, PostGone
from titanium.services.comments.tables import outbox

POST, POST_AUTHOR, WRITER, STRANGER = 7, 100, 200, 300
# Nothing listens here: the service's own relay never reaches a blog in these tests.
NOWHERE = "http://127.0.0.1:9"


class Tokens:
    """Stands in for the token check: `Bearer <user_id>:<username>`."""

    async def claims_of(self, request: Any, *, revoked_ok: bool = False) -> dict[str, Any]:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if ":" not in token:
            raise HTTPException(401, "a bearer token is required")
        user_id, username = token.split(":", 1)
        return {"user_id": int(user_id), "username": username}


class Blog:
    """Stands in for the blog: its public posts' authors, or down."""

    def __init__(self, public: dict[int, int]) -> None:
        self.public = public
        self.down = False

    async def public_post_author(self, post_id: int) -> int | None:
        if self.down:
            raise BlogUnavailable("down")
        return self.public.get(post_id)


def as_user(user_id: int, name: str | None = None, address: str = "10.0.0.1") -> dict[str, str]:
    return {"Authorization": f"Bearer {user_id}:{name or f'user{user_id}'}", "X-Forwarded-For": address}


@pytest.fixture
async def comments(comments_database, tmp_path):
    settings = CommentsSettings(comments_database_url=comments_database, data_dir=tmp_path, blog_url=NOWHERE,
                                auth_url=NOWHERE, comment_rate_limit_per_user="3/minute",
                                comment_rate_limit_per_address="5/minute")
    app = build(settings)
    blog = Blog({POST: POST_AUTHOR})
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    app.state.comments = dataclasses.replace(app.state.comments, verifier=Tokens(), blog=blog)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://comments") as client:
        client.blog = blog  # type: ignore[attr-defined]
        yield client
    await lifespan.__aexit__(None, None, None)


async def write(client, body="Nice post", user=WRITER, post=POST, address="10.0.0.1", **headers) -> httpx.Response:
    return await client.post(f"/blog/api/posts/{post}/comments", json={"body": body},
                             headers={**as_user(user, address=address), **headers})


async def test_comments_are_listed_oldest_first_with_their_rendered_markdown(comments):
    first = await write(comments, "**first**")
    assert first.status_code == 201, first.text
    assert first.json()["html"] == "<p><strong>first</strong></p>\n"
    assert {"id", "post_id", "body", "html", "author", "author_id", "created_at"} == first.json().keys()
    await write(comments, "second", user=STRANGER)
    listed = (await comments.get(f"/blog/api/posts/{POST}/comments")).json()
    assert [(c["body"], c["author"], c["author_id"]) for c in listed] == [
        ("**first**", f"user{WRITER}", WRITER), ("second", f"user{STRANGER}", STRANGER)]
    assert (await comments.get("/blog/api/posts/999/comments")).json() == []
    assert (await comments.head(f"/blog/api/posts/{POST}/comments")).status_code == 200


async def test_a_comment_needs_a_token_a_public_post_and_a_body(comments):
    assert (await comments.post(f"/blog/api/posts/{POST}/comments", json={"body": "hi"})).status_code == 401
    assert (await write(comments, post=8)).status_code == 404  # not a public post of the blog
    for body in ("", "   ", "x" * 5001):
        answer = await write(comments, body)
        assert answer.status_code == 422 and answer.json()["detail"], body
    assert (await write(comments, "x" * 5000)).status_code == 201


async def test_the_writer_or_the_post_author_may_delete_a_comment_nobody_else(comments):
    ids = [(await write(comments, f"comment {n}")).json()["id"] for n in range(3)]
    path = f"/blog/api/posts/{POST}/comments"
    refused = await comments.delete(f"{path}/{ids[0]}", headers=as_user(STRANGER))
    assert refused.status_code == 403 and refused.json()["detail"]
    assert (await comments.delete(f"{path}/{ids[0]}")).status_code == 401
    assert (await comments.delete(f"{path}/{ids[0]}", headers=as_user(WRITER))).status_code == 204
    assert (await comments.delete(f"{path}/{ids[1]}", headers=as_user(POST_AUTHOR))).status_code == 204
    assert (await comments.delete(f"{path}/{ids[1]}", headers=as_user(POST_AUTHOR))).status_code == 404
    assert (await comments.delete(f"/blog/api/posts/8/comments/{ids[2]}", headers=as_user(WRITER))).status_code == 404
    assert [c["id"] for c in (await comments.get(path)).json()] == [ids[2]]


async def test_a_deleted_post_takes_its_comments_and_takes_no_more(comments):
    await write(comments, "one")
    await write(comments, "two")
    for _ in range(2):  # the blog's outbox may deliver twice
        assert (await comments.delete(f"/internal/posts/{POST}/comments")).status_code == 204
    assert (await comments.get(f"/blog/api/posts/{POST}/comments")).json() == []
    comments.blog.down = True  # even a blog that cannot answer does not bring it back
    assert (await write(comments, "three", user=STRANGER)).status_code == 404
    comments.blog.down = False
    assert (await write(comments, "three", user=STRANGER)).status_code == 404  # the blog's post list may lag: the tombstone holds


async def test_a_comment_while_the_blog_is_down_waits_only_for_posts_not_known_here(comments):
    await write(comments, "known now")
    comments.blog.down = True
    assert (await write(comments, "still taken")).status_code == 201
    comments.blog.public[9] = POST_AUTHOR
    refused = await write(comments, "unknown post", post=9)
    assert refused.status_code == 503 and refused.headers["Retry-After"]


async def test_too_many_comments_from_one_writer_or_one_address_are_429(comments):
    for n in range(3):
        assert (await write(comments, f"n{n}", address="10.0.0.2")).status_code == 201
    refused = await write(comments, "one too many", address="10.0.0.3")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    # Another writer from the first address: the address's budget (5) is what stops them.
    assert [(await write(comments, f"m{n}", user=STRANGER + n, address="10.0.0.2")).status_code
            for n in range(3)] == [201, 201, 429]


@pytest.mark.parametrize("payload", [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "![x](https://example.com/a.png\" onerror=\"alert(1))",
    "<svg onload=alert(1)>",
    "<iframe src=https://evil.example></iframe>",
])
async def test_markup_and_script_in_a_comment_are_inert(comments, payload):
    elements = Elements()
    elements.feed((await write(comments, payload)).json()["html"])
    assert not {"script", "svg", "iframe", "img"} & {tag for tag, _ in elements.found}
    for _tag, attributes in elements.found:
        assert not [name for name, _ in attributes if name.startswith("on")]
        assert not [value for name, value in attributes if name in ("href", "src") and "javascript" in (value or "")]



async def test_a_key_sent_twice_makes_one_comment(comments):
    first = await write(comments, "once", **{"Idempotency-Key": "comment-key-1"})
    again = await write(comments, "once", **{"Idempotency-Key": "comment-key-1"})
    assert again.json()["id"] == first.json()["id"] and again.headers.get("Idempotent-Replayed") == "true"
    assert len((await comments.get(f"/blog/api/posts/{POST}/comments")).json()) == 1


# --- the count events -------------------------------------------------------
@pytest.fixture
async def engine(comments_database):
    engine = create_engine(comments_database)
    yield engine
    await engine.dispose()


async def outbox_events(engine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(outbox)))


async def test_each_change_writes_its_count_with_a_higher_version_in_the_same_transaction(engine):
    repository = CommentRepository(engine)
    first = await repository.create(POST, POST_AUTHOR, "a", "<p>a</p>", "w", WRITER)
    await repository.create(POST, POST_AUTHOR, "b", "<p>b</p>", "w", WRITER)
    assert await repository.delete(POST, first["id"])
    assert not await repository.delete(POST, first["id"])  # no change, no event
    await repository.post_deleted(POST)
    with pytest.raises(PostGone):
        await repository.create(POST, POST_AUTHOR, "c", "<p>c</p>", "w", WRITER)
    assert await outbox_events(engine) == 3  # the refused comment wrote nothing

    delivered: list[Event] = []

    async def deliver(event: Event) -> None:
        delivered.append(event)

    # A new engine and relay: what a restarted process finds and delivers.
    restarted = create_engine(str(engine.url))
    try:
        assert await OutboxRelay(restarted, outbox, deliver).deliver_due() == 3
    finally:
        await restarted.dispose()
    assert [(e.topic, e.payload) for e in delivered] == [
        (COUNT_CHANGED, {"post_id": POST, "count": 1, "version": 1}),
        (COUNT_CHANGED, {"post_id": POST, "count": 2, "version": 2}),
        (COUNT_CHANGED, {"post_id": POST, "count": 1, "version": 3}),
    ]
    assert await outbox_events(engine) == 0


async def test_concurrent_comments_count_in_the_order_of_their_versions(engine):
    repository = CommentRepository(engine)
    await asyncio.gather(*(repository.create(POST, POST_AUTHOR, f"c{n}", "<p/>", "w", WRITER + n) for n in range(8)))
    delivered: list[dict[str, Any]] = []

    async def deliver(event: Event) -> None:
        delivered.append(event.payload)

    await OutboxRelay(engine, outbox, deliver, batch_size=50).deliver_due()
    newest = max(delivered, key=lambda payload: payload["version"])
    assert newest == {"post_id": POST, "count": 8, "version": 8}
    assert sorted(payload["count"] for payload in delivered) == list(range(1, 9))
    assert all(payload["count"] == payload["version"] for payload in delivered)


# --- the blog's side: the counts it takes ---------------------------------------
async def test_the_blog_keeps_the_newest_count_whatever_order_they_arrive_in(blog_engine, blog_database, tmp_path):
    post, _ = await BlogRepository(blog_engine).create_post("Counted", "content", "alice", 1, CategoryRef(name="Ops"))
    app = build_blog(BlogSettings(blog_database_url=blog_database, data_dir=tmp_path, comments_url=NOWHERE,
                                  auth_url=NOWHERE))
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://blog") as blog:
            path = f"/internal/posts/{post['id']}/comment-count"
            assert (await blog.get(f"/blog/api/posts/{post['id']}")).json()["comment_count"] == 0  # now cached
            assert (await blog.put(path, json={"count": 3, "version": 2})).json() == {"taken": True}
            assert (await blog.put(path, json={"count": 1, "version": 1})).json() == {"taken": False}  # late
            assert (await blog.put(path, json={"count": 3, "version": 2})).json() == {"taken": False}  # twice
            assert (await blog.get(f"/blog/api/posts/{post['id']}")).json()["comment_count"] == 3
            assert (await blog.put("/internal/posts/999/comment-count", json={"count": 1, "version": 1})).json() == {
                "taken": False}  # a deleted post's count is answered, and dropped
            assert (await blog.put(path, json={"count": -1, "version": 3})).status_code == 422
    finally:
        await lifespan.__aexit__(None, None, None)
