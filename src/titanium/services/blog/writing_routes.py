"""The writing side of the blog API: drafts, scheduling, preview, and uploaded images.

| route | what |
|---|---|
| POST /blog/api/posts/{id}/publish | make a post public now, or at `publish_at` (author only) |
| POST /blog/api/posts/{id}/unpublish | make a post a draft again (author only) |
| GET /blog/api/me/drafts | the caller's drafts, newest first, a page at a time |
| GET /blog/api/me/scheduled | the caller's posts scheduled for later, the latest first |
| GET /blog/api/me/posts/{id} | one of the caller's posts as they see it, draft or scheduled |
| POST /blog/api/preview | Markdown rendered exactly as the post's page will show it |
| POST /blog/api/images | an image upload (multipart, field `file`), prepared and stored (images.py) |
| GET /blog/media/{name} | a stored image, cacheable for a year (its name is its content's hash) |

Creating and changing a post with `status` and `publish_at` is the post routes'
(app.py), through `apply_publication` here. A draft or a scheduled post is seen
by its author alone and by nobody else: GET /blog/api/posts/{id} is the public
answer (cached, the same for everyone), so the author reads theirs at
/blog/api/me/posts/{id}. `publishing_when_due` drops the cached lists when a
scheduled post's time comes. The decisions: docs/adr/0024-writing-drafts-and-images.md.

This module does not import app.py (which adds its routes): it reads the
service's objects from `app.state`, as pages.py does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, HTTPException, Path, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from titanium.core.api_docs import ErrorAnswer as Problem
from titanium.core.logging import get_logger
from titanium.core.ratelimit import RateLimiter, parse_limit
from titanium.core.routes import TitaniumRoute
from titanium.core.timestamps import utcnow
from titanium.core.tracing import untraced
from titanium.services.blog import families
from titanium.services.blog.images import ImageRefused, store_image
from titanium.services.blog.media_names import parse_name
from titanium.services.blog.media_storage import IMMUTABLE, MediaStorage, MediaUnavailable, open_media_storage
from titanium.services.blog.rendering import markdown_html, words_of
from titanium.services.blog.repository import Ownership, PostList
from titanium.services.blog.schemas import Content, PublishAt

if TYPE_CHECKING:
    from titanium.core.settings import BlogSettings
    from titanium.services.blog.app import Blog
    from titanium.services.blog.repository import BlogRepository

log = get_logger(__name__)

writing = APIRouter(prefix="/blog", route_class=TitaniumRoute)

SCHEDULED_SHOWN = 100  # a writer's scheduled posts listed at most
# How often the scheduled posts are looked for: a post scheduled for 10:00 is on the cached lists by 10:00:02.
DUE_CHECK_SECONDS = 2.0


# --- what the routes answer ------------------------------------------------------
class Category(BaseModel):
    id: int
    name: str
    slug: str
    color: str


class PostSummary(BaseModel):
    """A post as a list shows it (the fields below, and the others a list gives)."""

    model_config = ConfigDict(extra="allow")

    id: int
    title: str
    author: str
    author_id: int
    status: Literal["draft", "published"]
    published_at: str | None
    created_at: str
    updated_at: str
    summary: str
    reading_minutes: int
    category: Category


class Post(PostSummary):
    """A post with its Markdown."""

    content: str
    render_mode: str


class DraftPage(BaseModel):
    posts: list[PostSummary]
    next_cursor: str | None  # None on the last page


class Publication(BaseModel):
    """When the post goes public: `publish_at` (a future time with its zone) schedules it; without it, now."""

    model_config = ConfigDict(extra="forbid")

    publish_at: PublishAt | None = None


class PreviewRequest(BaseModel):
    content: Content
    render_mode: Literal["markdown", "seed"] = "markdown"


class Preview(BaseModel):
    html: str  # sanitised, as the post's page shows it
    summary: str
    reading_minutes: int


class StoredImage(BaseModel):
    url: str  # where the blog serves it: /blog/media/<name>
    name: str
    width: int
    height: int
    content_type: str
    markdown: str  # what the write page puts in the text: ![](url)


Responses = dict[int | str, dict[str, Any]]  # a route's declared error answers
_AUTH: Responses = {401: {"model": Problem, "description": "No token, or one that is not accepted"}}
_OWN: Responses = {**_AUTH, 403: {"model": Problem, "description": "The caller is not the post's author"},
        404: {"model": Problem, "description": "No such post"}}
_NOT_MINE = {"model": Problem, "description": "No such post of the caller's"}
_INVALID: Responses = {422: {"model": Problem, "description": "The body breaks a rule; `detail` says which"}}


# --- what the routes need ----------------------------------------------------------
async def _blog(request: Request) -> Any:
    return request.app.state.blog


if TYPE_CHECKING:
    BlogDep = Blog
else:  # FastAPI reads the annotation when the route is made: Blog is app.py's, which imports this module
    BlogDep = Annotated[Any, Depends(_blog)]


async def _user(request: Request, service: BlogDep) -> dict[str, Any]:
    """The caller's claims, checked once a request (app.py's `current_user` shares `request.state.claims`)."""
    claims: dict[str, Any] | None = getattr(request.state, "claims", None)
    if claims is None:
        claims = request.state.claims = await service.verifier.claims_of(request)
    return claims


User = Annotated[dict[str, Any], Depends(_user)]
PostId = Annotated[int, Path(ge=1, lt=2**31)]


async def owned(service: Blog, post_id: int, user: dict[str, Any], what: str) -> Ownership:
    """The post's ownership when `user` wrote it; 404 when there is no such post, 403 (saying `what` they may not) else."""
    ownership = await service.repository.ownership(post_id)
    if ownership is None:
        raise HTTPException(404, "post not found")
    if ownership.author_id != user["user_id"]:
        raise HTTPException(403, f"only the author may {what} this post")
    return ownership


async def _dropped(service: Blog, post_id: int, category_slugs: set[str]) -> None:
    """Drop what a change of a post's publication changes: the post, every list, its categories' lists and counts."""
    await service.cache.invalidate(families.post(post_id), families.ALL_LISTS, families.CATEGORIES,
                                   *(families.category_lists(slug) for slug in category_slugs))


async def apply_publication(repository: BlogRepository, post_id: int, status: str | None,
                            publish_at: datetime | None) -> dict[str, Any] | None:
    """A post's change of `status` / `publish_at` (a PATCH's): a draft, public now, or scheduled. None: no such post."""
    if status == "draft":
        return await repository.unpublish(post_id)
    if publish_at is not None:
        return await repository.schedule(post_id, publish_at)
    return await repository.publish(post_id)


# --- drafts and publication ---------------------------------------------------------
@writing.post("/api/posts/{post_id}/publish", response_model=Post, responses={**_OWN, **_INVALID})
async def publish(post_id: PostId, user: User, service: BlogDep, when: Publication | None = None) -> dict[str, Any]:
    """Make the post public: now, or at `publish_at` (scheduled). A public post published again stays as it is."""
    before = await owned(service, post_id, user, "publish or unpublish")
    post = await apply_publication(service.repository, post_id, None, when.publish_at if when else None)
    if post is None:
        raise HTTPException(404, "post not found")
    await _dropped(service, post_id, {before.category_slug, post["category"]["slug"]})
    return post


@writing.post("/api/posts/{post_id}/unpublish", response_model=Post, responses=_OWN)
async def unpublish(post_id: PostId, user: User, service: BlogDep) -> dict[str, Any]:
    """Make the post a draft again: off every list, feed and search, seen by its author alone."""
    before = await owned(service, post_id, user, "publish or unpublish")
    post = await service.repository.unpublish(post_id)
    if post is None:
        raise HTTPException(404, "post not found")
    await _dropped(service, post_id, {before.category_slug})
    return post


@writing.get("/api/me/drafts", response_model=DraftPage, responses={**_AUTH, **_INVALID})
async def my_drafts(user: User, service: BlogDep,
                    cursor: Annotated[str | None, Query(max_length=200)] = None,
                    limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict[str, Any]:
    """The caller's drafts, the newest first; `next_cursor` gives the next page."""
    page = await service.repository.list_page(PostList(author_id=user["user_id"], drafts=True),
                                              viewer_id=user["user_id"], cursor=cursor, limit=limit)
    return {"posts": page.posts, "next_cursor": page.next_cursor}


@writing.get("/api/me/scheduled", response_model=DraftPage, responses=_AUTH)
async def my_scheduled(user: User, service: BlogDep) -> dict[str, Any]:
    """The caller's posts scheduled for later (at most 100), the latest publication time first."""
    # The author's own list holds their scheduled posts first (newest publication time first), then the public ones.
    which, now, cursor = PostList(author_id=user["user_id"]), utcnow(), None
    found: list[dict[str, Any]] = []
    while len(found) < SCHEDULED_SHOWN:
        page = await service.repository.list_page(which, viewer_id=user["user_id"], cursor=cursor, limit=SCHEDULED_SHOWN)
        later = [post for post in page.posts if datetime.fromisoformat(post["published_at"]) > now]
        found += later
        if len(later) < len(page.posts) or page.next_cursor is None:
            break
        cursor = page.next_cursor
    return {"posts": found[:SCHEDULED_SHOWN], "next_cursor": None}


@writing.get("/api/me/posts/{post_id}", response_model=Post, responses={**_AUTH, 404: _NOT_MINE})
async def my_post(post_id: PostId, user: User, service: BlogDep) -> dict[str, Any]:
    """One of the caller's own posts as its author sees it: draft, scheduled or public (another's: 404)."""
    post = await service.repository.get_post(post_id, viewer_id=user["user_id"])
    if post is None or post["author_id"] != user["user_id"]:
        raise HTTPException(404, "post not found")
    return post


@writing.post("/api/preview", response_model=Preview, responses={**_AUTH, **_INVALID}, dependencies=[Depends(_user)])
async def preview(text: PreviewRequest) -> dict[str, Any]:
    """The text rendered by the same code, with the same sanitiser, as the post's page: what will be published."""
    words = words_of(text.content)
    return {"html": markdown_html(text.content, text.render_mode), "summary": words.summary,
            "reading_minutes": words.reading_minutes}


# --- images -----------------------------------------------------------------------------
class _Media:
    """The storage and the upload limit, made on the first upload or read (a bucket is opened once)."""

    def __init__(self, storage: MediaStorage, limiter: RateLimiter, settings: BlogSettings) -> None:
        self.storage = storage
        self.limiter = limiter
        self.limit = parse_limit(settings.image_upload_rate_limit)


_opening = asyncio.Lock()


async def _media(request: Request) -> _Media:
    media: _Media | None = getattr(request.app.state, "media", None)
    if media is None:
        async with _opening:
            media = getattr(request.app.state, "media", None)
            if media is None:
                settings = request.app.state.settings
                storage = await open_media_storage(settings)
                media = request.app.state.media = _Media(
                    storage, RateLimiter(settings.redis_url, settings.redis_prefix), settings)
    return media


MediaDep = Annotated[_Media, Depends(_media)]


@writing.post("/api/images", status_code=201, response_model=StoredImage, responses={
    **_AUTH,
    413: {"model": Problem, "description": "Over 10 MB, or more pixels than 40 million"},
    415: {"model": Problem, "description": "Not a JPEG, PNG, GIF or WebP (SVG is never taken)"},
    422: {"model": Problem, "description": "An image that does not decode, or no file"},
    429: {"model": Problem, "description": "Too many uploads; Retry-After says when to try again"},
    503: {"model": Problem, "description": "The storage cannot be reached; nothing was stored"},
})
async def upload_image(file: Annotated[UploadFile, File(description="The image: JPEG, PNG, GIF or WebP")],
                       user: User, media: MediaDep) -> dict[str, Any]:
    """Store an image for a post: checked by its content, stripped of metadata, at most 1600 px wide, as WebP."""
    decision = await media.limiter.hit(media.limit, "image-upload", str(user["user_id"]))
    if not decision.allowed:
        raise HTTPException(429, "too many uploads; please wait before the next", {"Retry-After": str(decision.retry_after)})
    data = await file.read()
    try:
        image = await store_image(data, media.storage)
    except ImageRefused as refusal:
        raise HTTPException(refusal.status, refusal.detail) from None
    except MediaUnavailable as failure:
        log.warning("image not stored", error=str(failure))
        raise HTTPException(503, "the image could not be stored now; please try again", {"Retry-After": "5"}) from None
    url = media.storage.url(image.name)
    return {"url": url, "name": image.name, "width": image.width, "height": image.height,
            "content_type": image.content_type, "markdown": f"![]({url})"}


@writing.get("/media/{name}", response_class=Response, responses={
    200: {"content": {"image/webp": {"schema": {"type": "string", "format": "binary"}}}, "description": "The image"},
    404: {"model": Problem, "description": "No image by that name"},
    503: {"model": Problem, "description": "The storage cannot be reached"},
})
async def media_file(name: Annotated[str, Path(max_length=100)], media: MediaDep) -> Response:
    """A stored image. Its name is its content's hash, so it is cached for a year, by browsers and any cache."""
    stored = parse_name(name)
    if stored is None:
        raise HTTPException(404, "no image by that name")
    try:
        data = await media.storage.get(name)
    except MediaUnavailable as failure:
        log.warning("image not read", error=str(failure))
        raise HTTPException(503, "the image cannot be read now", {"Retry-After": "5"}) from None
    if data is None:
        raise HTTPException(404, "no image by that name")
    return Response(data, media_type=stored.content_type, headers={"Cache-Control": IMMUTABLE})


writing.add_api_route("/media/{name}", media_file, methods=["HEAD"], include_in_schema=False)


# --- scheduled posts coming due -----------------------------------------------------------
@contextlib.asynccontextmanager
async def publishing_when_due(service: Blog, lookback: timedelta) -> AsyncIterator[None]:
    """While it is open, a task drops the cached lists a scheduled post joins when its time comes.

    Every process runs one (dropping twice is harmless). It starts `lookback`
    (the cache's lifetime) in the past: a post that came due while no process ran
    is dropped from lists cached before then.
    """
    task = asyncio.create_task(_drop_lists_when_due(service, utcnow() - lookback))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _drop_lists_when_due(service: Blog, after: datetime) -> None:
    with untraced():  # housekeeping, not a request: its queries would each start an orphan trace
        await _check_when_due(service, after)


async def _check_when_due(service: Blog, after: datetime) -> None:
    while True:
        until = utcnow()
        try:
            due = await service.repository.due_scheduled(after, until)
            for post in due:
                await _dropped(service, post["id"], {post["category_slug"]})
            after = until
        except Exception as failure:  # a database or cache down: the same window is tried again
            log.warning("scheduled posts not checked", error=str(failure))
        await asyncio.sleep(DUE_CHECK_SECONDS)
