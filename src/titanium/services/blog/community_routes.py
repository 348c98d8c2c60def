"""The blog's community API (issue 18): filtered lists with cursors, counts, tags, favourites, the feed and search.

The contract is /work/shared CONTRACT.md's "Blog service". Every list keeps
the old answer (a JSON array); the next page's cursor is in the headers
`X-Next-Cursor` and `Link: <...>; rel="next"`, absent on the last page.
What a reader alone sees (their `favourited` marks, their favourites, their
feed) is read from the database; what everyone sees the same is cached in
the family of all lists (families.ALL_LISTS), which every post write drops,
and a favourite drops too (the counts are on every list).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict

from titanium.core.jwks import KeysUnavailable
from titanium.core.revocation import RevocationsUnavailable
from titanium.core.routes import TitaniumRoute
from titanium.core.tokens import TokenError
from titanium.services.blog import families
from titanium.services.blog.community_reads import cached_popular_tags
from titanium.services.blog.follows import followed_ids, user_id_of
from titanium.services.blog.repository import PostList

API = "/blog/api"
router = APIRouter(prefix=API, route_class=TitaniumRoute)
# The counts, apart: the app adds them before the post route, whose pattern matches /posts/count too.
counts = APIRouter(prefix=API, route_class=TitaniumRoute)


# --- the answers' shapes (for the OpenAPI document) ---------------------------
class Detail(BaseModel):
    detail: Any


class Count(BaseModel):
    count: int


class TagCount(BaseModel):
    name: str
    slug: str
    count: int


class Post(BaseModel):
    """A post as the lists give it (the full post adds content and render_mode); the fields of CONTRACT.md."""

    model_config = ConfigDict(extra="allow")
    id: int
    title: str
    author: str
    author_id: int
    created_at: str
    updated_at: str
    status: str
    published_at: str | None
    description: str | None
    summary: str | None
    reading_minutes: int
    tags: list[dict[str, str]]
    favourites_count: int
    comment_count: int
    category: dict[str, Any]
    favourited: bool | None = None


class Highlight(BaseModel):
    title: str  # HTML: escaped, the matched words in <mark>
    snippet: str


class Found(Post):
    highlight: Highlight


class SearchAnswer(BaseModel):
    query: str
    results: list[Found]
    next_cursor: str | None


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    said = {401: "no token, or one not accepted", 404: "no such post, or not one the caller may see",
            422: "a parameter out of its range, or a cursor this list did not give",
            503: "the follow list (auth, users) cannot be read now; Retry-After"}
    return {code: {"model": Detail, "description": said[code]} for code in codes}


LIST_ERRORS = _errors(422, 503)
POST_ERRORS = _errors(404, 422)


class JSONBytes(Response):
    media_type = "application/json"


# --- the caller ---------------------------------------------------------------
async def _claims(request: Request) -> dict[str, Any]:
    """The caller's token's claims (401 without one we accept); checked once a request, as app.current_user does."""
    claims: dict[str, Any] | None = getattr(request.state, "claims", None)
    if claims is None:
        claims = request.state.claims = await request.app.state.blog.verifier.claims_of(request)
    return claims


async def viewer_id(service: Any, authorization: str | None) -> int | None:
    """Who reads a public list, for their `favourited` marks: None without a token, or with one not accepted.

    A public read never fails on a token: an expired one in a page's script still reads the list.
    """
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        claims = await service.verifier.verify(token.strip())
    except (TokenError, KeysUnavailable, RevocationsUnavailable):  # not accepted, or cannot be checked now
        return None
    return int(claims["user_id"])


# --- pages of lists ------------------------------------------------------------
def next_link(path: str, params: dict[str, Any], cursor: str) -> str:
    """The Link header of the next page: the same list (without its offset) after `cursor`."""
    kept = {name: value for name, value in params.items() if value is not None and name not in ("offset", "cursor")}
    return f'<{path}?{urlencode({**kept, "cursor": cursor})}>; rel="next"'


def paged(body: bytes, next_cursor: str | None, path: str, params: dict[str, Any]) -> Response:
    """A list's JSON as it is, with its next page in X-Next-Cursor and Link (neither on the last page)."""
    headers = {} if next_cursor is None else {"X-Next-Cursor": next_cursor,
                                              "Link": next_link(path, params, next_cursor)}
    return JSONBytes(body, headers=headers)


def split_cached(body: bytes) -> tuple[str | None, bytes]:
    """The next cursor and the posts' JSON array of a cached page (community_reads.cached_list_page, as orjson wrote it).

    A cursor is base64url (no quote, no escape), so its string ends at the next quote.
    """
    if body.startswith(b"[null"):
        cursor, rest = None, body[5:]
    else:
        end = body.index(b'"', 2)
        cursor, rest = body[2:end].decode("ascii"), body[end + 1:]
    return cursor, b"[]" if rest == b"]" else b"[" + rest[1:]


async def _reader_id(service: Any, request: Request, username: str) -> int:
    """The id of the reader whose favourites a list shows; a name nobody has lists nothing (id 0 keeps nothing)."""
    found = await user_id_of(service.auth, request, username)
    return 0 if found is None else found


def _one_filter(*filters: str | None) -> None:
    # Each list is one index range: two filters at once would be a list no index holds.
    if sum(value is not None for value in filters) > 1:
        raise HTTPException(422, "filter by one of category, tag, author or favourited")


async def list_response(service: Any, request: Request, *, offset: int, limit: int, cursor: str | None,
                        category: str | None, tag: str | None, author: str | None, favourited: str | None,
                        authorization: str | None) -> Response:
    """GET /posts beyond the plain cached list: a filter, a cursor or a reader (app.list_posts)."""
    if cursor is not None and offset:
        raise HTTPException(422, "give a cursor or an offset, not both")
    _one_filter(category, tag, author, favourited)
    which = PostList(category_slug=category, tag_slug=tag, author=author,
                     favourited_by=None if favourited is None else await _reader_id(service, request, favourited))
    reader = await viewer_id(service, authorization)
    params = {"limit": limit, "category": category, "tag": tag, "author": author, "favourited": favourited}
    if reader is None and favourited is None:
        next_cursor, body = split_cached(await _cached_public_page(service, which, cursor, offset, limit))
        return paged(body, next_cursor, f"{API}/posts", params)
    page = await service.repository.list_page(which, viewer_id=reader, cursor=cursor, offset=offset, limit=limit,
                                              with_favourited=True)
    return paged(orjson.dumps(page.posts), page.next_cursor, f"{API}/posts", params)


async def _cached_public_page(service: Any, which: PostList, cursor: str | None, offset: int, limit: int) -> bytes:
    """A page everyone sees the same (a filter, a cursor; no reader's marks), cached with every other list.

    Readers paging by "next" follow the same cursors, and at 100,000 posts an uncached page took the blog
    five times a cached one's time. Every post write and favourite drops the family; the cursor is checked
    before anything is kept (a foreign one is refused, never cached).
    """
    async def load() -> list[Any]:
        page = await service.repository.list_page(which, cursor=cursor, offset=offset, limit=limit)
        return [page.next_cursor, *page.posts]

    key = f"{which.scope()}:{cursor or ''}:{offset}:{limit}:paged"
    return await service.cache.get_or_load(families.ALL_LISTS, key, load) or b"[null]"


Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, lt=2**31)]
Cursor = Annotated[str | None, Query(min_length=1, max_length=200)]
Slug = Annotated[str | None, Query(min_length=1, max_length=60, pattern=r"^[^\x00]+$")]
Username = Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[^\x00]+$")]
Authorization = Annotated[str | None, Header()]


@counts.get("/posts/count", response_model=Count, responses=_errors(422, 503))
async def count_posts(request: Request, category: Slug = None, tag: Slug = None, author: Username = None,
                      favourited: Username = None) -> Response:
    """How many public posts a list holds: all, or one category's, tag's, author's, or reader's favourites."""
    service = request.app.state.blog
    _one_filter(category, tag, author, favourited)
    if favourited is not None:
        which = PostList(favourited_by=await _reader_id(service, request, favourited))
        return JSONBytes(orjson.dumps({"count": await service.repository.count(which)}))
    which = PostList(category_slug=category, tag_slug=tag, author=author)

    async def load() -> dict[str, int]:
        return {"count": await service.repository.count(which)}

    return JSONBytes(await service.cache.get_or_load(families.ALL_LISTS, f"count:{which.scope()}", load))


@router.get("/tags", response_model=list[TagCount], responses=_errors(422))
async def popular_tags(request: Request, limit: Annotated[int, Query(ge=1, le=100)] = 20) -> Response:
    """The tags of the most public posts, most used first, with their counts."""
    return JSONBytes(await cached_popular_tags(request.app.state.blog, limit))


PostId = Annotated[int, Path(ge=1, lt=2**31)]


async def _keep(request: Request, post_id: int, keep: bool) -> dict[str, Any]:
    service = request.app.state.blog
    user = await _claims(request)
    change = service.repository.favourite if keep else service.repository.unfavourite
    post = await change(post_id, user["user_id"])
    if post is None:
        raise HTTPException(404, "post not found")
    # The count is on the post, its page and every list it is on.
    await service.cache.invalidate(families.post(post_id), families.ALL_LISTS,
                                   families.category_lists(post["category"]["slug"]))
    result: dict[str, Any] = post
    return result


@router.put("/posts/{post_id}/favourite", response_model=Post, responses=_errors(401, 404, 422))
async def favourite(post_id: PostId, request: Request) -> dict[str, Any]:
    """Keep the post (the caller's favourite): counted once however often asked; the post, `favourited` true."""
    return await _keep(request, post_id, True)


@router.delete("/posts/{post_id}/favourite", response_model=Post, responses=_errors(401, 404, 422))
async def unfavourite(post_id: PostId, request: Request) -> dict[str, Any]:
    """No longer keep the post; the post, `favourited` false (asked twice, the same answer)."""
    return await _keep(request, post_id, False)


@router.get("/me/favourites", response_model=list[Post], responses=_errors(401, 422))
async def my_favourites(request: Request, cursor: Cursor = None, offset: Offset = 0, limit: Limit = 20) -> Response:
    """The public posts the caller keeps, newest first; the next page's cursor in X-Next-Cursor."""
    user = await _claims(request)
    return await _own_list(request, PostList(favourited_by=user["user_id"]), user, "/me/favourites",
                           cursor, offset, limit)


@router.get("/feed", response_model=list[Post], responses=_errors(401, 422, 503))
async def feed(request: Request, cursor: Cursor = None, offset: Offset = 0, limit: Limit = 20) -> Response:
    """The public posts of the authors the caller follows, newest first; the next page's cursor in X-Next-Cursor."""
    user = await _claims(request)
    following = await followed_ids(request.app.state.blog.auth, request)
    return await _own_list(request, PostList(author_ids=following), user, "/feed", cursor, offset, limit)


@router.get("/feed/count", response_model=Count, responses=_errors(401, 503))
async def feed_count(request: Request) -> Count:
    """How many public posts the caller's feed holds."""
    await _claims(request)
    following = await followed_ids(request.app.state.blog.auth, request)
    return Count(count=await request.app.state.blog.repository.count(PostList(author_ids=following)))


async def _own_list(request: Request, which: PostList, user: dict[str, Any], path: str, cursor: str | None,
                    offset: int, limit: int) -> Response:
    if cursor is not None and offset:
        raise HTTPException(422, "give a cursor or an offset, not both")
    page = await request.app.state.blog.repository.list_page(which, viewer_id=user["user_id"], cursor=cursor,
                                                              offset=offset, limit=limit, with_favourited=True)
    return paged(orjson.dumps(page.posts), page.next_cursor, f"{API}{path}", {"limit": limit})


def found(post: dict[str, Any]) -> dict[str, Any]:
    """A search result as the API gives it: the post's summary and its `highlight` (HTML, only <mark> unescaped)."""
    shown = {name: value for name, value in post.items() if name not in ("score", "snippet", "title_html")}
    return {**shown, "highlight": {"title": post["title_html"], "snippet": post["snippet"]}}


@router.get("/search", response_model=SearchAnswer, responses=_errors(422))
async def search(request: Request, q: Annotated[str, Query(min_length=1, max_length=200)], cursor: Cursor = None,
                 limit: Limit = 20, authorization: Authorization = None) -> Response:
    """Public posts with every word of `q`, best first, the matched words marked; `next_cursor` for the next page.

    Read from the database each time: an edit or a delete changes the results at once.
    """
    service = request.app.state.blog
    page = await service.repository.search(q, await viewer_id(service, authorization), cursor=cursor, limit=limit,
                                           with_favourited=authorization is not None)
    return JSONBytes(orjson.dumps({"query": q, "results": [found(post) for post in page.posts],
                                   "next_cursor": page.next_cursor}))
