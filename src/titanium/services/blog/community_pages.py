"""The community pages (issue 18): search, tags with their feeds, the reader's own feed, and author profiles.

Rendered on the server like the other pages (pages.py), and read the same way
without JavaScript; what needs the reader's token (the favourite button, the
follow button, "Your feed") is filled in by community.js.

| path | what |
|---|---|
| /blog/search?q=&cursor= | search results, best first, the matched words marked, a page at a time |
| /blog/tags/{slug}?cursor= | one tag's posts, newest first |
| /blog/tags/{slug}/feed.xml | its Atom feed |
| /blog/your-feed | the posts of the authors the reader follows (filled in by community.js) |
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

from titanium.services.blog import families
from titanium.services.blog.community_reads import tag_url
from titanium.services.blog.cursors import InvalidCursor
from titanium.services.blog.pages import (
    FEED_SIZE,
    PAGE_SIZE,
    READ,
    _cached,
    _categories,
    _feed,
    _language,
    _not_found,
    _render,
    _service,
    _site,
    _summary,
    category_url,
)
from titanium.services.blog.rendering import markdown_html, plain_text
from titanium.services.blog.repository import PostList

if TYPE_CHECKING:
    from titanium.services.blog.app import Blog

MAX_QUERY = 200
community_pages = APIRouter()


def _cursor(request: Request) -> str | None:
    return request.query_params.get("cursor") or None


def _cursor_pager(base: str, params: dict[str, str], cursor: str | None, next_cursor: str | None) -> dict[str, Any]:
    """The links of a list read by cursors: back to its first page, and on to the next one."""
    first = f"{base}?{urlencode(params)}" if params else base
    more = f"{base}?{urlencode({**params, 'cursor': next_cursor})}" if next_cursor else None
    return {"first_url": first if cursor else None, "next_url": more}


async def _tag_or_none(service: Blog, slug: str) -> dict[str, Any] | None:
    async def load() -> dict[str, Any] | None:
        tag = await service.repository.get_tag(slug)
        # Its keys as plain strings (a row's may be SQLAlchemy's kind, which the cache's orjson refuses).
        return None if tag is None else {str(name): value for name, value in tag.items()}

    found: dict[str, Any] | None = await _cached(service, families.ALL_LISTS, f"tag:{slug}", load)
    return found


# A tag's slug may hold a "/" ("CI/CD" is "ci/cd"): matched as a path, the feed first.
@community_pages.api_route("/blog/tags/{slug:path}/feed.xml", methods=READ, include_in_schema=False)
async def tag_feed(request: Request, slug: str) -> Response:
    service = _service(request)
    tag = await _tag_or_none(service, slug)
    if tag is None:
        return _not_found(request, _language(request).gettext("There is no tag by that name, so it has no feed."))

    async def entries() -> list[dict[str, Any]]:
        posts = await service.repository.recent_posts(FEED_SIZE, None, tag_slug=slug)
        return [{**post, "html": markdown_html(post["content"]), "summary": plain_text(post["content"], 200)}
                for post in posts]

    found = await _cached(service, families.ALL_LISTS, f"tag:{slug}:feed", entries)
    return _feed(request, found, f"{_site(request).name}: #{tag['name']}", f"{tag_url(slug)}/feed.xml", tag_url(slug))


@community_pages.api_route("/blog/tags/{slug:path}", methods=READ, include_in_schema=False)
async def tag_page(request: Request, slug: str) -> Response:
    service = _service(request)
    language = _language(request)
    tag = await _tag_or_none(service, slug)
    if tag is None:
        return _not_found(request, language.gettext("There is no tag by that name. Perhaps its last post was deleted."))
    cursor = _cursor(request)

    async def load() -> dict[str, Any]:
        page = await service.repository.list_page(PostList(tag_slug=slug), cursor=cursor, limit=PAGE_SIZE)
        return {"posts": page.posts, "next": page.next_cursor}

    try:
        page = await _cached(service, families.ALL_LISTS, f"tag:{slug}:{cursor}", load)
    except InvalidCursor:
        return _not_found(request, language.gettext("This page of the list does not exist; start from its first page."))
    if not page["posts"] and cursor:
        return _not_found(request, language.gettext("There are no posts on this page; the list is shorter."))
    name = tag["name"]
    heading = language.gettext("Posts tagged %(tag)s") % {"tag": name}
    return _render(
        request, "tag.html", title=heading, heading=heading, tag=tag, page_kind="tag",
        posts=[_summary(post, language) for post in page["posts"]],
        count=tag["post_count"], canonical=tag_url(slug) if not cursor else f"{tag_url(slug)}?cursor={cursor}",
        description=language.gettext("Posts tagged %(tag)s on %(site)s.") % {"tag": name, "site": _site(request).name},
        feed_url=f"{tag_url(slug)}/feed.xml", feed_title=language.gettext("%(tag)s: Atom feed") % {"tag": name},
        categories=[{**category, "url": category_url(category["slug"])} for category in await _categories(service)],
        **_cursor_pager(tag_url(slug), {}, cursor, page["next"]))


def _result(post: dict[str, Any], language: Any) -> dict[str, Any]:
    # The highlights are HTML the repository made safe: escaped whole, then only <mark> put in.
    return {**_summary(post, language), "title_html": Markup(post["title_html"]),  # noqa: S704
            "snippet": Markup(post["snippet"])}  # noqa: S704


@community_pages.api_route("/blog/search", methods=READ, include_in_schema=False)
async def search_page(request: Request) -> Response:
    service = _service(request)
    language = _language(request)
    query = request.query_params.get("q", "").strip()
    cursor = _cursor(request)
    context: dict[str, Any] = {"query": query, "page_kind": "search", "noindex": True, "results": None}
    title = language.gettext("Search")
    if len(query) > MAX_QUERY:
        context["problem"] = language.gettext("The search is too long: at most %(count)s characters.") % {
            "count": MAX_QUERY}
        return _render(request, "search.html", 422, title=title, **context)
    if not query:
        return _render(request, "search.html", title=title, **context)
    try:
        page = await service.repository.search(query, cursor=cursor, limit=PAGE_SIZE)
    except InvalidCursor:
        return _not_found(request, language.gettext("This page of the list does not exist; start from its first page."))
    context["results"] = [_result(post, language) for post in page.posts]
    return _render(request, "search.html", title=language.gettext("Search: %(query)s") % {"query": query}, **context,
                   **_cursor_pager("/blog/search", {"q": query}, cursor, page.next_cursor))


@community_pages.api_route("/blog/your-feed", methods=READ, include_in_schema=False)
async def your_feed(request: Request) -> Response:
    # The reader is known only to the page's script (it keeps the token): it fills the list in.
    language = _language(request)
    title = language.gettext("Your feed")
    return _render(request, "your_feed.html", title=title, heading=title, page_kind="your-feed", noindex=True)
