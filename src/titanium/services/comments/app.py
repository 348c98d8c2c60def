"""The comments service: readers' comments on blog posts, in a database of its own (docs/adr/0019).

Its public routes sit under the blog's post paths (the gateway forwards
them here before the blog's catch-all, core/registry.py). It asks the blog
whether a post is public before taking a comment on it, and tells the blog
each post's comment count through its outbox. `/internal/...` is for the
blog only (the gateway routes no such path): the blog's outbox tells it that
a post was deleted, and its comments go with it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Request, Response
from limits import RateLimitItem

from titanium.core.api_docs import BEARER, ErrorAnswer
from titanium.core.app import create_app
from titanium.core.authn import REVOCATIONS_PATH, TokenChecker, revocations_over_http
from titanium.core.client_address import client_address
from titanium.core.database import create_engine, ping, warm_pool
from titanium.core.http import http_client
from titanium.core.idempotency import build_key_store, idempotent, install_idempotency
from titanium.core.jwks import JWKSVerifier
from titanium.core.logging import get_logger
from titanium.core.metrics import Outcome, business_counter
from titanium.core.outbox import OutboxRelay
from titanium.core.ratelimit import RateLimiter, parse_limit
from titanium.core.revocation import RevocationList
from titanium.core.routes import TitaniumRoute, add_routes
from titanium.core.settings import CommentsSettings
from titanium.services.blog.rendering import markdown_html
from titanium.services.comments.blog_link import BlogLink, BlogUnavailable
from titanium.services.comments.repository import CommentRepository, PostGone
from titanium.services.comments.schemas import Comment, NewComment
from titanium.services.comments.tables import outbox

log = get_logger(__name__)
PostId = Annotated[int, Path(ge=1, lt=2**31)]
CommentId = Annotated[int, Path(ge=1, lt=2**31)]

api = APIRouter(prefix="/blog/api/posts/{post_id}/comments", route_class=TitaniumRoute, tags=["comments"])
internal = APIRouter(prefix="/internal", route_class=TitaniumRoute, include_in_schema=False)

COMMENTS_WRITTEN = business_counter("comments_written_total", "Comments written, by action", "action")
OUTCOMES = (
    Outcome("POST", "/blog/api/posts/{post_id}/comments", 201, COMMENTS_WRITTEN, "create"),
    Outcome("POST", "/blog/api/posts/{post_id}/comments", 429, COMMENTS_WRITTEN, "throttled"),
    Outcome("DELETE", "/blog/api/posts/{post_id}/comments/{comment_id}", 204, COMMENTS_WRITTEN, "delete"),
)
UNAVAILABLE = "the blog cannot say now whether this post takes comments; try again shortly"
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorAnswer, "description": "no token, or one not accepted"},
    404: {"model": ErrorAnswer, "description": "no such public post (or comment)"},
    422: {"model": ErrorAnswer, "description": "the body is not a comment of 1 to 5000 characters"},
}


@dataclass(frozen=True)
class Limits:
    limiter: RateLimiter
    per_user: RateLimitItem
    per_address: RateLimitItem


@dataclass(frozen=True)
class Comments:
    """What the routes need, made once at start-up."""

    repository: CommentRepository
    verifier: TokenChecker
    blog: BlogLink
    limits: Limits
    relay: OutboxRelay


async def comments_service(request: Request) -> Comments:
    return request.app.state.comments


Service = Annotated[Comments, Depends(comments_service)]


async def current_user(request: Request, service: Service) -> dict[str, Any]:
    """The caller's token's claims (checked once a request: the idempotency key's owner asks first)."""
    claims: dict[str, Any] | None = getattr(request.state, "claims", None)
    if claims is None:
        claims = request.state.claims = await service.verifier.claims_of(request)
    return claims


User = Annotated[dict[str, Any], Depends(current_user)]


async def _writer(request: Request) -> str | None:
    """Whose Idempotency-Keys a comment's key is among: its writer's (None when the route will refuse the token)."""
    try:
        user = await current_user(request, request.app.state.comments)
    except HTTPException:
        return None
    return f"user:{user['user_id']}"


async def _within_limits(request: Request, limits: Limits, user_id: int) -> None:
    """429 past the comments one writer, or one address, may post in the window."""
    for limit, who in ((limits.per_user, f"user:{user_id}"), (limits.per_address, client_address(request.scope))):
        decision = await limits.limiter.hit(limit, "comment", who)
        if not decision.allowed:
            log.warning("comment rate limited", who=who)
            raise HTTPException(429, "too many comments in a short time; wait a little, then try again",
                                {"Retry-After": str(decision.retry_after)})


async def _post_author(service: Comments, post_id: int) -> int:
    """The public post's author, from the blog; when the blog cannot answer, the author this service knows."""
    try:
        author = await service.blog.public_post_author(post_id)
    except BlogUnavailable as exc:
        # A post that took comments before still does: the blog's deletion reaches us through its outbox.
        known = await service.repository.known_author(post_id)
        if known is None:
            log.warning("blog unavailable for a comment on a post not known here", post_id=post_id, error=str(exc))
            raise HTTPException(503, UNAVAILABLE, {"Retry-After": "1"}) from None
        return known
    if author is None:
        raise HTTPException(404, "post not found")
    return author


@api.get("", response_model=list[Comment])
async def list_comments(post_id: PostId, service: Service) -> list[dict[str, Any]]:
    """The post's comments, oldest first (an unknown post has none)."""
    return await service.repository.list_for(post_id)


# HEAD answers as GET does, out of the API document (one operation a method and path there, each id its own).
api.add_api_route("", list_comments, methods=["HEAD"], response_model=list[Comment], include_in_schema=False)


@api.post("", status_code=201, response_model=Comment,
          responses={**_ERRORS, 429: {"model": ErrorAnswer, "description": "too many comments from this writer or address"},
                     503: {"model": ErrorAnswer, "description": "the blog cannot say now whether the post takes comments"}},
          openapi_extra=BEARER)
@idempotent(_writer)
async def create_comment(post_id: PostId, new: NewComment, user: User, service: Service,
                         request: Request) -> dict[str, Any]:
    """Comment on a public post: the body is Markdown, rendered and sanitised by the blog's rules."""
    await _within_limits(request, service.limits, int(user["user_id"]))
    post_author = await _post_author(service, post_id)
    html = markdown_html(new.body)
    comment = await service.repository.create(post_id, post_author, new.body, html, user["username"],
                                              int(user["user_id"]))
    service.relay.wake()
    return comment


@api.delete("/{comment_id}", status_code=204,
            responses={**_ERRORS, 403: {"model": ErrorAnswer, "description": "neither the comment's nor the post's author"}},
            openapi_extra=BEARER)
@idempotent(_writer)
async def delete_comment(post_id: PostId, comment_id: CommentId, user: User, service: Service) -> Response:
    """Delete a comment: its writer or the post's author may."""
    found = await service.repository.find(post_id, comment_id)
    if found is None:
        raise HTTPException(404, "comment not found")
    if user["user_id"] not in (found.author_id, found.post_author_id):
        raise HTTPException(403, "only the comment's writer or the post's author may delete it")
    if not await service.repository.delete(post_id, comment_id):
        raise HTTPException(404, "comment not found")
    service.relay.wake()
    return Response(status_code=204)


@internal.delete("/posts/{post_id}/comments", status_code=204)
async def post_deleted(post_id: PostId, service: Service) -> Response:
    """The blog deleted the post (its outbox): the post's comments go, and it takes no new one."""
    removed = await service.repository.post_deleted(post_id)
    log.info("post deleted: its comments removed", post_id=post_id, removed=removed)
    return Response(status_code=204)


async def _post_gone(_request: Request, _exc: Exception) -> Response:
    return Response(b'{"detail":"post not found"}', 404, media_type="application/json")


def build(settings: CommentsSettings | None = None) -> FastAPI:
    settings = settings or CommentsSettings()
    assert settings.comments_database_url is not None
    engine = create_engine(settings.comments_database_url, settings.database_pool_size)
    repository = CommentRepository(engine)
    limiter = RateLimiter(settings.redis_url, settings.redis_prefix)
    limits = Limits(limiter, parse_limit(settings.comment_rate_limit_per_user),
                    parse_limit(settings.comment_rate_limit_per_address))
    idempotency_keys = build_key_store(settings.redis_url, settings.redis_prefix)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await warm_pool(engine)
        async with http_client(1.0, 3.0, base_url=settings.auth_url, service="auth") as auth, \
                http_client(1.0, 3.0, base_url=settings.blog_url, service="blog") as blog_client:
            auth_url = str(auth.base_url)
            keys = JWKSVerifier(auth_url, auth, settings.jwt_issuer, settings.jwt_audience, settings.jwks_cache_seconds,
                                service="comments")
            verifier = TokenChecker(keys, RevocationList(revocations_over_http(auth, f"{auth_url}{REVOCATIONS_PATH}")))
            blog = BlogLink(blog_client)
            async with OutboxRelay(engine, outbox, blog.deliver).running() as relay:
                app.state.comments = Comments(repository, verifier, blog, limits, relay)
                yield
        await idempotency_keys.close()
        await engine.dispose()

    async def checks() -> dict[str, bool]:
        return {"database": await ping(engine)}

    async def soft_checks() -> dict[str, bool]:
        return {"rate_limit_store": await limiter.shared_store_ok()}

    app = create_app("comments", settings, app_class=FastAPI, lifespan=lifespan, checks=checks,
                     soft_checks=soft_checks, figures=repository.counts, outcomes=OUTCOMES, title="Titanium comments",
                     docs_url=None, redoc_url=None)  # its schema, for the gateway's API document
    install_idempotency(app, "comments", idempotency_keys)
    app.add_exception_handler(PostGone, _post_gone)
    add_routes(app, api, internal)
    return app
