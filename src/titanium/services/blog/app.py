"""The blog service: posts and categories, and the blog web app.

Reads go through a cache (cache-aside; a write drops the entries it changes); writes
check the caller's token against the auth service's cached public keys.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path as FilePath
from typing import Annotated, Any

import httpx
import orjson
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from pydantic import BeforeValidator
from sqlalchemy.ext.asyncio import AsyncEngine

from titanium.core.api_docs import BEARER, errors
from titanium.core.app import create_app
from titanium.core.authn import REVOCATIONS_PATH, TokenChecker, revocations_over_http
from titanium.core.cache import CachedNamespace, build_cache
from titanium.core.database import create_engine, create_read_engine, create_replica_engine, ping, warm_pool
from titanium.core.errors import error_response
from titanium.core.http import http_client
from titanium.core.idempotency import build_key_store, idempotent, install_idempotency, keyed_request, mark_replayed
from titanium.core.jwks import JWKSVerifier
from titanium.core.metrics import Outcome, business_counter
from titanium.core.read_replicas import ReadRouter, ReplicaAwareCache, build_write_positions, caching, record_ttl
from titanium.core.revocation import RevocationList
from titanium.core.routes import TitaniumRoute, add_routes
from titanium.core.settings import BlogSettings
from titanium.services.blog import comment_counts, community_routes, families
from titanium.services.blog.answers import Category, Post, PostSummary
from titanium.services.blog.comments_link import comments_link
from titanium.services.blog.community_pages import community_pages
from titanium.services.blog.community_reads import cached_list_page
from titanium.services.blog.content import InvalidName
from titanium.services.blog.cursors import InvalidCursor
from titanium.services.blog.families import ALL_LISTS, CATEGORIES
from titanium.services.blog.languages import languages
from titanium.services.blog.pages import Site, pages
from titanium.services.blog.plain_reads import list_arguments, plain_read, post_arguments
from titanium.services.blog.repository import (
    BlogRepository,
    CategoryRef,
    ConcurrentChange,
    InvalidPost,
    Ownership,
    UnknownCategory,
)
from titanium.services.blog.schemas import NewPost, PostChanges, PostFields
from titanium.services.blog.writing_routes import apply_publication, owned, publishing_when_due, writing

WEB_DIR = FilePath(__file__).parent / "web"


def _digits_only(value: object) -> object:
    # int() would take " 7" and "+7" as post 7: an id is written in digits alone.
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError("a post id is written in digits only")
    return value


PostId = Annotated[int, BeforeValidator(_digits_only), Path(ge=1, lt=2**31)]

api = APIRouter(prefix="/blog/api", route_class=TitaniumRoute)
POST_GONE = ("the post this Idempotency-Key created has been deleted since; "
             "send a new key to create another")

POSTS_WRITTEN = business_counter("blog_posts_written_total", "Posts written, by action", "action")
OUTCOMES = (
    Outcome("POST", "/blog/api/posts", 201, POSTS_WRITTEN, "create"),
    Outcome("PATCH", "/blog/api/posts/{post_id}", 200, POSTS_WRITTEN, "update"),
    Outcome("DELETE", "/blog/api/posts/{post_id}", 204, POSTS_WRITTEN, "delete"),
)


class Blog:
    """What the routes need, made once at start-up."""

    def __init__(self, repository: BlogRepository, cache: CachedNamespace | ReplicaAwareCache,
                 verifier: TokenChecker, auth: httpx.AsyncClient | None = None) -> None:
        self.repository = repository
        self.cache = cache
        self.verifier = verifier
        self.auth = auth  # the client of the auth service: whom a reader follows (follows.py)


async def blog(request: Request) -> Blog:
    # async: FastAPI runs a plain `def` dependency in a worker thread, a hop per request.
    return request.app.state.blog


BlogDep = Annotated[Blog, Depends(blog)]


async def current_user(request: Request, service: BlogDep) -> dict[str, Any]:
    """The claims of the caller's token; 401 when it has none we accept, or it was revoked (authn.py).

    Checked once a request: a keyed write asks first for its key's owner (`_writer`), then for its route.
    """
    claims: dict[str, Any] | None = getattr(request.state, "claims", None)
    if claims is None:
        claims = request.state.claims = await service.verifier.claims_of(request)
    return claims


User = Annotated[dict[str, Any], Depends(current_user)]


def _category_ref(fields: PostFields) -> CategoryRef | None:
    if fields.category_id is not None:
        return CategoryRef(id=fields.category_id)
    if fields.category_name is not None:
        return CategoryRef(name=fields.category_name)
    return None


async def _own_post(service: Blog, post_id: int, user: dict[str, Any]) -> Ownership:
    return await owned(service, post_id, user, "change or delete")


# The cache's families: what one write drops together.
_category_lists = families.category_lists
_post = families.post


class JSONBytes(Response):
    """JSON already encoded (from the cache): sent as it is, not validated and encoded again."""

    media_type = "application/json"


async def _writer(request: Request) -> str | None:
    """Whose Idempotency-Keys a write's key is among: its writer's (None when the route will refuse the token)."""
    try:
        user = await current_user(request, request.app.state.blog)
    except HTTPException:
        return None
    return f"user:{user['user_id']}"


@api.get("/posts", response_model=list[PostSummary], responses=errors(422, 503))
@plain_read(list_arguments)
async def list_posts(
    service: BlogDep,
    offset: Annotated[int, Query(ge=0, lt=2**31)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    category: community_routes.Slug = None,
    tag: community_routes.Slug = None,
    author: community_routes.Username = None,
    favourited: community_routes.Username = None,
    cursor: community_routes.Cursor = None,
    authorization: Annotated[str | None, Header()] = None,
    request: Request = None,  # type: ignore[assignment]  # FastAPI's own; the plain way has none and needs none
) -> Response:
    """Public posts newest first: all, or one category's, tag's, author's or reader's favourites (one filter).

    The next page's cursor is in X-Next-Cursor and Link (absent on the last page); with a token, each post
    says whether the caller keeps it (`favourited`).
    """
    if tag or author or favourited or cursor or authorization:
        return await community_routes.list_response(
            service, request, offset=offset, limit=limit, cursor=cursor, category=category, tag=tag, author=author,
            favourited=favourited, authorization=authorization)
    # The same entry as the list page's of this offset and limit: one cached answer serves both.
    next_cursor, body = community_routes.split_cached(await cached_list_page(service, offset, limit, category))
    return community_routes.paged(body, next_cursor, "/blog/api/posts", {"limit": limit, "category": category})


@api.get("/posts/{post_id}", response_model=Post, responses=errors(404, 422))
@plain_read(post_arguments)
async def get_post(post_id: PostId, service: BlogDep, authorization: Annotated[str | None, Header()] = None) -> Response:
    """The post, with its content; with a token, whether the caller keeps it (`favourited`)."""
    reader = await community_routes.viewer_id(service, authorization)
    if reader is not None:  # the reader's own view, not cached
        post = await service.repository.get_post(post_id, reader, with_favourited=True)
        if post is None:
            raise HTTPException(404, "post not found")
        return JSONBytes(orjson.dumps(post))
    body = await service.cache.get_or_load(_post(post_id), "", lambda: service.repository.get_post(post_id))
    if body is None:
        raise HTTPException(404, "post not found")
    return JSONBytes(body)


async def _post_still_there(request: Request, kept: bytes) -> Response | None:
    """A retried create whose post was deleted since: 410, never a 201 naming a post that no longer exists."""
    made = orjson.loads(kept).get("id")
    if isinstance(made, int) and await request.app.state.blog.repository.ownership(made) is None:
        return error_response(410, POST_GONE)
    return None


@api.post("/posts", status_code=201, response_model=Post, responses=errors(400, 401, 409, 410, 422),
          openapi_extra=BEARER)
@idempotent(_writer, _post_still_there)
async def create_post(new: NewPost, user: User, service: BlogDep, request: Request,
                      response: Response) -> dict[str, Any]:
    """Write a post, filed under a category named (made if new) or given by id.

    With an `Idempotency-Key`, a retry gets the first answer (`Idempotent-Replayed: true`) and makes
    nothing; the same key with another body is 422, and 410 once the post it made has been deleted.
    """
    category = _category_ref(new)
    assert category is not None and new.title is not None and new.content is not None
    # A keyed create is recorded with its post: a retry after this process died between the
    # commit and storing the answer finds the post instead of making another (core/idempotency.py).
    post, replayed = await service.repository.create_post(new.title, new.content, user["username"],
                                                          user["user_id"], category, keyed_request(request),
                                                          tags=new.tags or (), description=new.description,
                                                          status=new.status or "published", published_at=new.publish_at)
    if replayed:
        mark_replayed(response)
    # A replay drops the lists too: the first may have died before it did. The post's
    # own family holds nothing yet, but with read replicas its first read must
    # come from one that has this write (core/read_replicas.py).
    await service.cache.invalidate(_post(post["id"]), ALL_LISTS, _category_lists(post["category"]["slug"]), CATEGORIES)
    return post


@api.patch("/posts/{post_id}", response_model=Post, responses=errors(400, 401, 403, 404, 409, 422),
           openapi_extra=BEARER)
@idempotent(_writer)
async def update_post(post_id: PostId, changes: PostChanges, user: User, service: BlogDep) -> dict[str, Any]:
    """Change the caller's own post: only the fields sent change."""
    before = await _own_post(service, post_id, user)
    values = changes.model_dump(include={"title", "content", "description"}, exclude_none=True)
    post = await service.repository.update_post(post_id, values, _category_ref(changes), tags=changes.tags)
    if post is not None and (changes.status or changes.publish_at):  # a draft, published, or scheduled (writing_routes.py)
        post = await apply_publication(service.repository, post_id, changes.status, changes.publish_at)
    if post is None:
        raise HTTPException(404, "post not found")
    after = post["category"]["slug"]
    changed = {_post(post_id)}
    if before.public or changes.status or changes.publish_at:  # a draft's text (autosaved often) is on no list
        changed |= {ALL_LISTS, _category_lists(before.category_slug), _category_lists(after)}
    if after != before.category_slug:
        changed.add(CATEGORIES)  # post counts moved, a category may have come or gone
    await service.cache.invalidate(*changed)
    return post


@api.delete("/posts/{post_id}", status_code=204, responses=errors(400, 401, 403, 404), openapi_extra=BEARER)
@idempotent(_writer)
async def delete_post(post_id: PostId, user: User, service: BlogDep) -> Response:
    """Delete the caller's own post."""
    before = await _own_post(service, post_id, user)
    if not await service.repository.delete_post(post_id):
        raise HTTPException(404, "post not found")
    await service.cache.invalidate(_post(post_id), ALL_LISTS, _category_lists(before.category_slug), CATEGORIES)
    return Response(status_code=204)


@api.get("/categories", response_model=list[Category])
async def list_categories(service: BlogDep) -> Response:
    """Every category that holds a public post, with its count."""
    return JSONBytes(await service.cache.get_or_load(CATEGORIES, "", service.repository.list_categories))


# Last of every API route (build): any other route of the blog's API is tried first.
unknown = APIRouter(prefix="/blog/api", route_class=TitaniumRoute)


@unknown.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
async def unknown_api(request: Request, path: str) -> None:
    # Keeps unknown API paths from falling through to the web app's page; a
    # known path asked with a method it does not take is a 405 with Allow.
    allowed = sorted({method for route in api.routes if route is not request.scope["route"]
                      and isinstance(route, APIRoute) and route.path_regex.match(request.url.path)
                      for method in route.methods or ()})
    if allowed:
        raise HTTPException(405, "Method Not Allowed", {"Allow": ", ".join(allowed)})
    raise HTTPException(404, "Not Found")


async def _unknown_category(_request: Request, exc: Exception) -> JSONResponse:
    # Shaped like a validation error: it is the body's category_id that is wrong.
    return JSONResponse({"detail": [{"loc": ["body", "category_id"], "msg": str(exc), "type": "value_error"}]}, 422)


async def _unacceptable(_request: Request, exc: Exception) -> JSONResponse:
    # A name no link could reach, a cursor this list did not give, a post's field against its rules.
    return JSONResponse({"detail": str(exc)}, 422)


async def _concurrent_change(_request: Request, _exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": "the post met a concurrent change; please try again"}, 409)


def _read_router(settings: BlogSettings, reader: AsyncEngine) -> ReadRouter:
    """The reads' router: to the read replicas when there are some (with the write positions kept beside the cache)."""
    urls = settings.blog_database_read_urls
    max_lag = settings.blog_database_read_max_lag_seconds
    positions = build_write_positions(settings.redis_url, f"{settings.redis_prefix}:blog-written",
                                      record_ttl(max_lag)) if urls else None
    return ReadRouter(reader, [create_replica_engine(url, settings.database_pool_size) for url in urls],
                      service="blog", positions=positions, max_lag_seconds=max_lag)


def build(settings: BlogSettings | None = None) -> FastAPI:
    settings = settings or BlogSettings()
    assert settings.blog_database_url is not None
    engine = create_engine(settings.blog_database_url, settings.database_pool_size)
    reader = create_read_engine(settings.blog_database_url, engine)
    reads = _read_router(settings, reader)
    repository = BlogRepository(engine, reads)
    engines = {engine, reader}  # one engine on PostgreSQL, where the reader is the writer's
    cache = build_cache(settings.redis_url, settings.redis_prefix, settings.cache_ttl_seconds)
    idempotency_keys = build_key_store(settings.redis_url, settings.redis_prefix)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.gather(*(warm_pool(each) for each in engines), reads.start())
        async with http_client(1.0, 3.0, base_url=settings.auth_url, service="auth") as client, \
                comments_link(settings.comments_url, engine) as comments:
            # The client's base URL is auth's first process; it sends each call to the next one in turn.
            auth_url = str(client.base_url)
            keys = JWKSVerifier(auth_url, client, settings.jwt_issuer, settings.jwt_audience, settings.jwks_cache_seconds)
            verifier = TokenChecker(keys, RevocationList(revocations_over_http(client, f"{auth_url}{REVOCATIONS_PATH}")))
            namespace = CachedNamespace(cache, "blog", settings.cache_ttl_seconds, "blog")
            app.state.blog = Blog(repository, caching(namespace, reads), verifier, client)
            app.state.comments = comments  # a post page's comments; deleted posts' news (outbox)
            async with publishing_when_due(app.state.blog, timedelta(seconds=settings.cache_ttl_seconds)):
                yield
        await reads.stop()
        await cache.close()
        await idempotency_keys.close()
        for each in engines:
            await each.dispose()

    async def checks() -> dict[str, bool]:
        return {"database": await ping(engine)}

    async def soft_checks() -> dict[str, bool]:
        return {"cache": await cache.status() == "ok", **reads.checks()}

    async def figures() -> dict[str, Any]:
        return {**await repository.counts(), "cache_backend": cache.kind, **reads.figures()}

    app = create_app("blog", settings, app_class=FastAPI, lifespan=lifespan, checks=checks, soft_checks=soft_checks,
                     figures=figures, outcomes=OUTCOMES,
                     title="Titanium blog",
                     docs_url=None, redoc_url=None, openapi_url="/blog/api/openapi.json")
    install_idempotency(app, "blog", idempotency_keys)
    app.add_exception_handler(UnknownCategory, _unknown_category)
    app.add_exception_handler(ConcurrentChange, _concurrent_change)
    for refused in (InvalidName, InvalidCursor, InvalidPost):
        app.add_exception_handler(refused, _unacceptable)
    # Starlette tries the routes in order, matching a regular expression each: the reads asked for most come
    # first (after the platform's five), or every route before them costs each of their requests a match (the
    # post was the 24th route of 54: 9 % of the blog's CPU on a cached read, py-spy). The counts go before the
    # post, whose pattern matches /posts/count too; every catch-all goes after the routes it stands behind.
    add_routes(app, community_routes.counts, api, writing, community_routes.router, comment_counts.internal, unknown)
    app.mount("/blog/static", StaticFiles(directory=WEB_DIR / "static"), name="blog-static")
    languages()  # every language's catalog now: a missing one stops the start, saying how to compile it
    app.state.site = Site.from_settings(settings)
    add_routes(app, community_pages, pages)  # before the pages' catch-all of unknown pages
    return app
