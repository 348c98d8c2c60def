"""The blog's pages, rendered on the server: they read without JavaScript.

Every page is the same for every reader (who is logged in is known only to
the page's script, which keeps the token), so the pages read through the
same repository and cache as the API, under the same families: a write that
drops the API's cached answers drops the pages' too.

| path | what |
|---|---|
| /blog/, /blog?page=N | the posts, newest first, 10 a page, with newer/older links |
| /blog/posts/{id}-{slug} | one post, its Markdown rendered and sanitised (/blog/posts/{id} redirects here) |
| /blog/posts/{id}/edit, /blog/write | the writing form (shown by the script to a logged-in writer) |
| /blog/categories/{slug}, /blog/authors/{username} | one category's, one author's posts |
| /blog/login, /blog/register | the account forms (the script sends them to the account API) |
| /blog/feed.xml, /blog/categories/{slug}/feed.xml | Atom feeds |
| /blog/sitemap.xml, /blog/categories.css, /blog/favicon.ico | the sitemap, the category colours, the icon |
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from titanium.services.blog import families
from titanium.services.blog.rendering import markdown_html, plain_text, post_slug, text_color_on, xml_safe

if TYPE_CHECKING:
    from titanium.services.blog.app import Blog

WEB_DIR = Path(__file__).parent / "web"
PAGE_SIZE = 10
FEED_SIZE = 20
SITEMAP_SIZE = 50_000
MAX_PAGE = 10_000_000
SITE_NAME = "Titanium blog"
SITE_DESCRIPTION = "Posts from the Titanium blog: cloud-native notes, DevOps and more."
_POST_REF = re.compile(r"^([1-9][0-9]{0,9})(?:-([A-Za-z0-9-]*))?$")
_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")
_PAGE_HEADERS = {"Cache-Control": "no-cache"}

templates = Environment(
    loader=FileSystemLoader(WEB_DIR / "templates"),
    autoescape=select_autoescape(["html", "xml"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters["xml_safe"] = xml_safe

pages = APIRouter()
READ = ["GET", "HEAD"]


# --- what the pages read ----------------------------------------------------
def _service(request: Request) -> Blog:
    return request.app.state.blog


async def _cached(service: Blog, family: str, key: str, load: Callable[[], Awaitable[Any]]) -> Any:
    body = await service.cache.get_or_load(family, key, load)
    return None if body is None else orjson.loads(body)


async def _categories(service: Blog) -> list[dict[str, Any]]:
    categories: list[dict[str, Any]] = await _cached(service, families.CATEGORIES, "", service.repository.list_categories)
    return categories


def post_url(post_id: int, title: str) -> str:
    return f"/blog/posts/{post_id}-{post_slug(title)}"


def category_url(slug: str) -> str:
    return f"/blog/categories/{quote(slug, safe='')}"


def author_url(username: str) -> str:
    return f"/blog/authors/{quote(username, safe='')}"


def _when(iso: str) -> dict[str, str]:
    moment = datetime.fromisoformat(iso).astimezone(UTC)
    return {"iso": moment.isoformat(), "text": f"{moment.day} {moment:%B %Y}", "atom": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}


def _summary(post: dict[str, Any]) -> dict[str, Any]:
    category = post["category"]
    return {
        **post,
        "url": post_url(post["id"], post["title"]),
        "author_url": author_url(post["author"]),
        "category": {**category, "url": category_url(category["slug"])},
        "created": _when(post["created_at"]),
        "summary": plain_text(post["excerpt"], 200),
    }


def _origin(request: Request) -> str:
    """The public scheme and host, as the gateway was asked for them (for feeds, the sitemap and og:url)."""
    proto = request.headers.get("x-forwarded-proto", request.url.scheme)
    host = request.headers.get("x-forwarded-host") or request.headers.get("host") or request.url.netloc
    if proto not in ("http", "https"):
        proto = request.url.scheme
    if not _HOST.match(host):
        host = request.url.netloc
    return f"{proto}://{host}"


def _page_number(request: Request) -> int | None:
    """The `page` asked for (1 when none), or None when it is not a page number."""
    raw = request.query_params.get("page")
    if raw is None or raw == "":
        return 1
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
        return None
    return int(raw)


def _render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("canonical", request.url.path)
    context.setdefault("description", SITE_DESCRIPTION)
    body = templates.get_template(template).render(origin=_origin(request), site_name=SITE_NAME, **context)
    return HTMLResponse(body, status_code=status_code, headers=_PAGE_HEADERS)


def _not_found(request: Request, message: str = "There is no page at this address.") -> HTMLResponse:
    return _render(request, "not_found.html", 404, title="Page not found", message=message, page_kind="not-found",
                   noindex=True)


def _page_link(base: str, page: int) -> str:
    return base if page <= 1 else f"{base}?page={page}"


async def _list_page(request: Request, base: str, page: int, posts: list[dict[str, Any]], **context: Any) -> Response:
    """A page of a list of posts; `posts` holds up to PAGE_SIZE + 1 (one more tells that an older page exists)."""
    if not posts and page > 1:
        return _not_found(request, "There are no posts on this page; the list is shorter.")
    title = context.pop("title")
    return _render(
        request, "list.html",
        posts=[_summary(post) for post in posts[:PAGE_SIZE]],
        page=page,
        newer_url=_page_link(base, page - 1) if page > 1 else None,
        older_url=_page_link(base, page + 1) if len(posts) > PAGE_SIZE else None,
        canonical=_page_link(base, page),
        title=title if page == 1 else f"{title} (page {page})",
        categories=[{**category, "url": category_url(category["slug"])}
                    for category in await _categories(_service(request))],
        page_kind="list",
        **context,
    )


# --- the reading pages ------------------------------------------------------
@pages.api_route("/blog", methods=READ, include_in_schema=False)
@pages.api_route("/blog/", methods=READ, include_in_schema=False)
async def home(request: Request) -> Response:
    page = _page_number(request)
    if page is None:
        return _not_found(request)
    service = _service(request)
    offset, limit = (page - 1) * PAGE_SIZE, PAGE_SIZE + 1
    # The same key as the API's list of this offset and limit: one cached answer serves both.
    posts = await _cached(service, families.ALL_LISTS, f"{offset}:{limit}",
                          lambda: service.repository.list_posts(offset, limit, None))
    return await _list_page(request, "/blog/", page, posts, title="Latest posts", heading="Latest posts",
                            home=True, feed_url="/blog/feed.xml")


# A slug may hold a "/" (the category "CI/CD" is "ci/cd"): matched as a path. The feed comes first.
@pages.api_route("/blog/categories/{slug:path}/feed.xml", methods=READ, include_in_schema=False)
async def category_feed(request: Request, slug: str) -> Response:
    service = _service(request)
    category = next((found for found in await _categories(service) if found["slug"] == slug), None)
    if category is None:
        return _not_found(request, "There is no category by that name, so it has no feed.")
    entries = await _cached(service, families.category_lists(slug), "feed", lambda: _feed_entries(service, slug))
    return _feed(request, entries, f"{SITE_NAME}: {category['name']}", f"{category_url(slug)}/feed.xml",
                 category_url(slug))


@pages.api_route("/blog/categories/{slug:path}", methods=READ, include_in_schema=False)
async def category_page(request: Request, slug: str) -> Response:
    page = _page_number(request)
    service = _service(request)
    category = next((found for found in await _categories(service) if found["slug"] == slug), None)
    if page is None or category is None:
        return _not_found(request, "There is no category by that name. Perhaps its last post was deleted.")
    offset, limit = (page - 1) * PAGE_SIZE, PAGE_SIZE + 1
    posts = await _cached(service, families.category_lists(slug), f"{offset}:{limit}",
                          lambda: service.repository.list_posts(offset, limit, slug))
    name = category["name"]
    return await _list_page(request, category_url(slug), page, posts, title=f"Posts in {name}",
                            heading=f"Posts in {name}", current_category=slug,
                            description=f"Posts filed under {name} on the Titanium blog.",
                            feed_url=f"{category_url(slug)}/feed.xml", feed_title=f"{name}: Atom feed")


@pages.api_route("/blog/authors/{username}", methods=READ, include_in_schema=False)
async def author_page(request: Request, username: str) -> Response:
    page = _page_number(request)
    if page is None or not _USERNAME.match(username):
        return _not_found(request, "There is no author by that name.")
    service = _service(request)
    offset, limit = (page - 1) * PAGE_SIZE, PAGE_SIZE + 1
    posts = await _cached(service, families.ALL_LISTS, f"author:{username}:{offset}:{limit}",
                          lambda: service.repository.list_posts(offset, limit, None, author=username))
    if not posts:
        return _not_found(request, f"{username} has not written any post here (yet).")
    return await _list_page(request, author_url(username), page, posts, title=f"Posts by {username}",
                            heading=f"Posts by {username}", description=f"Posts written by {username} on the Titanium blog.",
                            feed_url="/blog/feed.xml")


async def _post_for_page(service: Blog, post_id: int) -> dict[str, Any] | None:
    post = await service.repository.get_post(post_id)
    if post is None:
        return None
    return {**post, "html": markdown_html(post["content"]), "description": plain_text(post["content"], 200)}


def _post_id(ref: str) -> tuple[int, str | None] | None:
    match = _POST_REF.match(ref)
    if match is None or int(match[1]) >= 2**31:
        return None
    return int(match[1]), match[2]


async def _load_post(request: Request, post_id: int) -> dict[str, Any] | None:
    service = _service(request)
    # The post's own family: its edit or deletion drops this with the API's copy.
    post: dict[str, Any] | None = await _cached(service, families.post(post_id), "page",
                                                lambda: _post_for_page(service, post_id))
    return post


async def _post_at(request: Request, ref: str) -> dict[str, Any] | None:
    """The post a path's `{id}` or `{id}-{slug}` names, if there is one."""
    parsed = _post_id(ref)
    return None if parsed is None else await _load_post(request, parsed[0])


@pages.api_route("/blog/posts/{ref}", methods=READ, include_in_schema=False)
async def post_page(request: Request, ref: str) -> Response:
    post = await _post_at(request, ref)
    if post is None:
        return _not_found(request, "There is no post here. It may have been deleted, or the address may be mistyped.")
    canonical = post_url(post["id"], post["title"])
    if request.url.path != canonical:
        return RedirectResponse(canonical, status_code=301)
    category = post["category"]
    return _render(
        request, "post.html",
        post={**post, "created": _when(post["created_at"]), "updated": _when(post["updated_at"]),
              "author_url": author_url(post["author"]), "category": {**category, "url": category_url(category["slug"])}},
        content=Markup(post["html"]),  # noqa: S704 - sanitised by rendering.markdown_html (nh3)
        title=post["title"], description=post["description"] or post["title"], og_type="article",
        page_kind="post",
    )


# --- the writing pages (the script shows their forms to a logged-in writer) ---
@pages.api_route("/blog/write", methods=READ, include_in_schema=False)
async def write_page(request: Request) -> Response:
    return _render(request, "write.html", title="Write a post", page_kind="write", noindex=True,
                   categories=await _categories(_service(request)), post=None)


@pages.api_route("/blog/posts/{ref}/edit", methods=READ, include_in_schema=False)
async def edit_page(request: Request, ref: str) -> Response:
    post = await _post_at(request, ref)
    if post is None:
        return _not_found(request, "There is no post here to edit. It may have been deleted.")
    return _render(request, "write.html", title=f"Edit “{post['title']}”", page_kind="edit", noindex=True,
                   categories=await _categories(_service(request)),
                   post={**post, "url": post_url(post["id"], post["title"])})


@pages.api_route("/blog/login", methods=READ, include_in_schema=False)
async def login_page(request: Request) -> Response:
    return _render(request, "login.html", title="Log in", page_kind="login", noindex=True,
                   description="Log in to write on the Titanium blog.")


@pages.api_route("/blog/register", methods=READ, include_in_schema=False)
async def register_page(request: Request) -> Response:
    return _render(request, "register.html", title="Register", page_kind="register", noindex=True,
                   description="Make an account to write on the Titanium blog.")


# --- feeds, sitemap, colours, icon --------------------------------------------
async def _feed_entries(service: Blog, slug: str | None) -> list[dict[str, Any]]:
    posts = await service.repository.recent_posts(FEED_SIZE, slug)
    return [{**post, "html": markdown_html(post["content"]), "summary": plain_text(post["content"], 200)}
            for post in posts]


def _feed(request: Request, entries: list[dict[str, Any]], title: str, self_path: str, page_path: str) -> Response:
    updated = max((entry["updated_at"] for entry in entries), default=None)
    body = templates.get_template("feed.xml").render(
        origin=_origin(request), title=title, self_path=self_path, page_path=page_path,
        updated=_when(updated)["atom"] if updated else datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        entries=[{**entry, "url": post_url(entry["id"], entry["title"]), "created": _when(entry["created_at"]),
                  "updated": _when(entry["updated_at"]), "author_url": author_url(entry["author"])}
                 for entry in entries],
    )
    return Response(body, media_type="application/atom+xml; charset=utf-8", headers=_PAGE_HEADERS)


@pages.api_route("/blog/feed.xml", methods=READ, include_in_schema=False)
async def feed(request: Request) -> Response:
    service = _service(request)
    entries = await _cached(service, families.ALL_LISTS, "feed", lambda: _feed_entries(service, None))
    return _feed(request, entries, SITE_NAME, "/blog/feed.xml", "/blog/")


@pages.api_route("/blog/sitemap.xml", methods=READ, include_in_schema=False)
async def sitemap(request: Request) -> Response:
    service = _service(request)
    posts = await _cached(service, families.ALL_LISTS, "sitemap", lambda: service.repository.post_index(SITEMAP_SIZE))
    authors: dict[str, str] = {}
    for post in posts:
        authors[post["author"]] = max(authors.get(post["author"], ""), post["updated_at"])
    body = templates.get_template("sitemap.xml").render(
        origin=_origin(request),
        posts=[{"url": post_url(post["id"], post["title"]), "updated": _when(post["updated_at"])["atom"]} for post in posts],
        categories=[category_url(category["slug"]) for category in await _categories(service) if category["post_count"]],
        authors=[author_url(author) for author in sorted(authors)],
    )
    return Response(body, media_type="application/xml; charset=utf-8", headers=_PAGE_HEADERS)


@pages.api_route("/blog/categories.css", methods=READ, include_in_schema=False)
async def category_colors(request: Request) -> Response:
    """Each category's badge colours: its own background, and black or white text, whichever contrasts more.

    A stylesheet, not style attributes: the pages' Content-Security-Policy allows no inline style.
    """
    rules = [f".cat-{int(category['id'])}{{background-color:{category['color']};color:{text_color_on(category['color'])}}}"
             for category in await _categories(_service(request)) if _COLOR.match(category["color"])]
    css = "\n".join(rules) + "\n"
    etag = '"' + hashlib.sha256(css.encode()).hexdigest()[:20] + '"'
    headers = {"Cache-Control": "no-cache", "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(css, media_type="text/css; charset=utf-8", headers=headers)


@pages.api_route("/blog/favicon.ico", methods=READ, include_in_schema=False)
async def favicon() -> Response:
    return RedirectResponse("/blog/static/favicon.svg", status_code=301)


@pages.api_route("/blog/{rest:path}", methods=READ, include_in_schema=False)
async def unknown_page(request: Request, rest: str) -> Response:
    if rest == "api" or rest.startswith("api/"):
        # The API's paths answer in JSON, even to a HEAD that no API route takes (as before the pages).
        raise HTTPException(405, "Method Not Allowed")
    return _not_found(request)
