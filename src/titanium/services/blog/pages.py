"""The blog's pages, rendered on the server: they read without JavaScript.

A page differs between readers only by their language and their theme
(preferences.py; who is logged in is known only to the page's script, which
keeps the token), so the pages read through the same repository and cache as
the API, under the same families: a write that drops the API's cached
answers drops the pages' too. The cache holds data, never HTML: each page is
rendered from it in its reader's language.

| path | what |
|---|---|
| /blog/, /blog?page=N | the posts, newest first, 10 a page, with page numbers and newer/older links |
| /blog/posts/{id}-{slug} | one post, its Markdown rendered and sanitised (/blog/posts/{id} redirects here) |
| /blog/posts/{id}/edit, /blog/write | the writing form (shown by the script to a logged-in writer) |
| /blog/categories/{slug}, /blog/authors/{username} | one category's, one author's posts |
| /blog/login, /blog/register | the account forms (the script sends them to the account API) |
| /blog/feed.xml, /blog/categories/{slug}/feed.xml | Atom feeds |
| /blog/sitemap.xml, /blog/robots.txt | the sitemap, and what crawlers may read |
| /blog/categories.css, /blog/favicon.ico | the category colours, the icon |
| /blog/i18n/{language}.js | blog.js's words in the page's language |
| POST /blog/language, /blog/theme | the switches on every page (preferences.py) |
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from titanium.services.blog import families
from titanium.services.blog.community_reads import (
    author_profile,
    cached_popular_tags,
    list_page_posts,
    popular_tags,
    tag_url,
    with_tag_links,
)
from titanium.services.blog.languages import LANGUAGE_COOKIE, LANGUAGE_NAMES, Language, choose, languages
from titanium.services.blog.pagination import last_page, page_numbers
from titanium.services.blog.preferences import choose_language, choose_theme, chosen_theme
from titanium.services.blog.rendering import (
    CONTENT_SECURITY_POLICY,
    first_image,
    markdown_html,
    plain_text,
    post_slug,
    text_color_on,
    xml_safe,
)

if TYPE_CHECKING:
    from titanium.core.settings import BlogSettings
    from titanium.services.blog.app import Blog

WEB_DIR = Path(__file__).parent / "web"
PAGE_SIZE = 10
FEED_SIZE = 20
SITEMAP_SIZE = 50_000
MAX_PAGE = 10_000_000
_POST_REF = re.compile(r"^([1-9][0-9]{0,9})(?:-([A-Za-z0-9-]*))?$")
_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
# A page is in its reader's language and theme, chosen by these headers (Cookie: the switches').
# Their policy lets a post show images from any https server, as well as this blog's uploads.
_PAGE_HEADERS = {"Cache-Control": "no-cache", "Vary": "Accept-Language, Cookie",
                 "Content-Security-Policy": CONTENT_SECURITY_POLICY}
_FILE_HEADERS = {"Cache-Control": "no-cache"}
# How the dark stylesheet applies: always, never, or as the reader's system says.
_DARK_MEDIA = {"dark": "all", "light": "not all", None: "(prefers-color-scheme: dark)"}
_COLOR_SCHEME = {"dark": "dark", "light": "light", None: "light dark"}
_OG_LOCALES = {"en": "en_US", "ko": "ko_KR"}

pages = APIRouter()
pages.add_api_route("/blog/language", choose_language, methods=["POST"], include_in_schema=False)
pages.add_api_route("/blog/theme", choose_theme, methods=["POST"], include_in_schema=False)
READ = ["GET", "HEAD"]


@dataclass(frozen=True)
class Site:
    """What the pages call the site, say it is about, and speak when a reader's browser asks for no language of ours."""

    name: str
    description: str
    language: str
    # Where readers reach the blog (TITANIUM_PUBLIC_URL): the origin of every absolute link.
    public_url: str

    @classmethod
    def from_settings(cls, settings: BlogSettings) -> Site:
        return cls(settings.site_name, settings.site_description, settings.site_language, settings.public_url)


@lru_cache(maxsize=len(LANGUAGE_NAMES))
def templates(code: str) -> Environment:
    """The templates in one language: Jinja2's i18n extension with that language's catalog installed."""
    environment = Environment(
        loader=FileSystemLoader(WEB_DIR / "templates"),
        autoescape=select_autoescape(["html", "xml"]),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    # newstyle: a translated message is formatted by gettext itself, its values escaped.
    environment.install_gettext_translations(languages()[code].translations, newstyle=True)  # type: ignore[attr-defined]
    environment.filters["xml_safe"] = xml_safe
    return environment


# --- what the pages read ----------------------------------------------------
def _service(request: Request) -> Blog:
    return request.app.state.blog


def _site(request: Request) -> Site:
    return request.app.state.site


def _language(request: Request) -> Language:
    """The reader's language: their switch's choice, else their browser's, else the site's."""
    code = choose(request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language"), _site(request).language)
    return languages()[code]


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


def _moment(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(UTC)


def _atom_time(iso: str) -> str:
    return _moment(iso).strftime("%Y-%m-%dT%H:%M:%SZ")


def _when(iso: str, language: Language) -> dict[str, str]:
    moment = _moment(iso)
    return {"iso": moment.isoformat(), "text": language.date(moment)}


def _summary(post: dict[str, Any], language: Language) -> dict[str, Any]:
    category = post["category"]
    return {
        **with_tag_links(post),
        "url": post_url(post["id"], post["title"]),
        "author_url": author_url(post["author"]),
        "category": {**category, "url": category_url(category["slug"])},
        "created": _when(post["created_at"], language),
    }


def _origin(request: Request) -> str:
    """The blog's public scheme and host (for feeds, the sitemap, canonical links and og:url).

    From the settings, never from the request: Host and X-Forwarded-Host are the client's to choose.
    """
    return _site(request).public_url


def _page_number(request: Request) -> int | None:
    """The `page` asked for (1 when none), or None when it is not a page number."""
    raw = request.query_params.get("page")
    if raw is None or raw == "":
        return 1
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
        return None
    return int(raw)


def _here(request: Request) -> str:
    """This page's own address, where a switch brings the reader back to."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    site, language, theme = _site(request), _language(request), chosen_theme(request)
    context.setdefault("canonical", request.url.path)
    context.setdefault("description", site.description)
    body = templates(language.code).get_template(template).render(
        origin=_origin(request), site_name=site.name, language=language, here=_here(request),
        other_languages=[other for other in languages().values() if other.code != language.code],
        og_locale=_OG_LOCALES[language.code], dark_media=_DARK_MEDIA[theme], color_scheme=_COLOR_SCHEME[theme],
        script_messages=script_messages_url(language.code), **context)
    return HTMLResponse(body, status_code=status_code, headers=_PAGE_HEADERS)


def _not_found(request: Request, message: str | None = None) -> HTMLResponse:
    language = _language(request)
    return _render(request, "not_found.html", 404, title=language.gettext("Page not found"),
                   message=message or language.gettext("There is no page at this address."), page_kind="not-found",
                   noindex=True)


def _page_link(base: str, page: int) -> str:
    return base if page <= 1 else f"{base}?page={page}"


async def _list_page(request: Request, base: str, page: int, posts: list[dict[str, Any]],
                     total: int, **context: Any) -> Response:
    """A page of a list of posts: up to PAGE_SIZE of them, of `total` in the list."""
    last = last_page(total, PAGE_SIZE)
    if not posts and page > 1:
        return _not_found(request, _language(request).gettext("There are no posts on this page; the list is shorter."))
    language = _language(request)
    title = context.pop("title")
    return _render(
        request, "list.html",
        posts=[_summary(post, language) for post in posts[:PAGE_SIZE]],
        page=page,
        newer_url=_page_link(base, page - 1) if page > 1 else None,
        older_url=_page_link(base, page + 1) if page < last else None,
        page_links=[None if number is None else (number, _page_link(base, number))
                    for number in page_numbers(page, max(last, page))],
        canonical=_page_link(base, page),
        title=title if page == 1 else language.gettext("%(title)s (page %(number)s)") % {"title": title, "number": page},
        categories=[{**category, "url": category_url(category["slug"])}
                    for category in await _categories(_service(request))],
        page_kind="list",
        **context,
    )


async def _count(service: Blog, family: str, key: str, category_slug: str | None, author: str | None = None) -> int:
    total: int = await _cached(service, family, key, lambda: service.repository.count_posts(category_slug, author))
    return total


# --- the reading pages ------------------------------------------------------
@pages.api_route("/blog", methods=READ, include_in_schema=False)
@pages.api_route("/blog/", methods=READ, include_in_schema=False)
async def home(request: Request) -> Response:
    page = _page_number(request)
    if page is None:
        return _not_found(request)
    service = _service(request)
    offset, limit = (page - 1) * PAGE_SIZE, PAGE_SIZE
    # The same key as the API's list of this offset and limit: one cached answer serves both.
    posts = await list_page_posts(service, offset, limit, None)
    total = await _count(service, families.ALL_LISTS, "count", None)
    heading = _language(request).gettext("Latest posts")
    return await _list_page(request, "/blog/", page, posts, total, title=heading, heading=heading,
                            home=True, feed_url="/blog/feed.xml", popular_tags=await popular_tags(service))


# A slug may hold a "/" (the category "CI/CD" is "ci/cd"): matched as a path. The feed comes first.
@pages.api_route("/blog/categories/{slug:path}/feed.xml", methods=READ, include_in_schema=False)
async def category_feed(request: Request, slug: str) -> Response:
    service = _service(request)
    category = next((found for found in await _categories(service) if found["slug"] == slug), None)
    if category is None:
        return _not_found(request, _language(request).gettext("There is no category by that name, so it has no feed."))
    entries = await _cached(service, families.category_lists(slug), "feed", lambda: _feed_entries(service, slug))
    return _feed(request, entries, f"{_site(request).name}: {category['name']}", f"{category_url(slug)}/feed.xml",
                 category_url(slug))


@pages.api_route("/blog/categories/{slug:path}", methods=READ, include_in_schema=False)
async def category_page(request: Request, slug: str) -> Response:
    page = _page_number(request)
    service = _service(request)
    language = _language(request)
    category = next((found for found in await _categories(service) if found["slug"] == slug), None)
    if page is None or category is None:
        return _not_found(request, language.gettext(
            "There is no category by that name. Perhaps its last post was deleted."))
    offset, limit = (page - 1) * PAGE_SIZE, PAGE_SIZE
    family = families.category_lists(slug)
    posts = await list_page_posts(service, offset, limit, slug)
    total = await _count(service, family, "count", slug)
    name = category["name"]
    heading = language.gettext("Posts in %(category)s") % {"category": name}
    return await _list_page(request, category_url(slug), page, posts, total, title=heading, heading=heading,
                            current_category=slug,
                            description=language.gettext("Posts filed under %(category)s on %(site)s.")
                            % {"category": name, "site": _site(request).name},
                            feed_url=f"{category_url(slug)}/feed.xml",
                            feed_title=language.gettext("%(category)s: Atom feed") % {"category": name})


@pages.api_route("/blog/authors/{username}", methods=READ, include_in_schema=False)
async def author_page(request: Request, username: str) -> Response:
    page = _page_number(request)
    language = _language(request)
    if page is None or not _USERNAME.match(username):
        return _not_found(request, language.gettext("There is no author by that name."))
    service = _service(request)
    offset, limit = (page - 1) * PAGE_SIZE, PAGE_SIZE
    posts = await _cached(service, families.ALL_LISTS, f"author:{username}:{offset}:{limit}",
                         lambda: service.repository.list_posts(offset, limit, None, author=username))
    if not posts:
        return _not_found(request, language.gettext("%(name)s has not written any post here (yet).") % {"name": username})
    total = await _count(service, families.ALL_LISTS, f"author:{username}:count", None, username)
    heading = language.gettext("Posts by %(name)s") % {"name": username}
    return await _list_page(request, author_url(username), page, posts, total, title=heading, heading=heading,
                            description=language.gettext("Posts written by %(name)s on %(site)s.")
                            % {"name": username, "site": _site(request).name},
                            feed_url="/blog/feed.xml", profile=await author_profile(service, username))


async def _post_for_page(service: Blog, post_id: int) -> dict[str, Any] | None:
    post = await service.repository.get_post(post_id)
    if post is None:
        return None
    # The summary and the reading time were worked out when the post was written (repository.py).
    return {**post, "html": markdown_html(post["content"], post["render_mode"]),
            "description": post["description"] or post["summary"],
            "image": first_image(post["content"], post["render_mode"])}


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


def _absolute(request: Request, url: str | None) -> str | None:
    """An image's URL as another site must be given it: an upload's path with this blog's origin."""
    return _absolute_with(_origin(request), url) if url else None


def _absolute_with(origin: str, url: str) -> str:
    return origin + url if url.startswith("/") else url


def _blog_posting(origin: str, site: Site, post: dict[str, Any]) -> dict[str, Any]:
    """The post as schema.org's BlogPosting, for search engines (JSON-LD: a data block, never run as script)."""
    url = origin + post_url(post["id"], post["title"])
    blog = {"@type": "Blog", "name": site.name, "url": f"{origin}/blog/"}
    return {
        "@context": "https://schema.org",
        "@type": "BlogPosting",
        "headline": post["title"],
        "description": post["description"] or post["title"],
        "url": url,
        "mainEntityOfPage": {"@type": "WebPage", "@id": url},
        "datePublished": _moment(post["created_at"]).isoformat(),
        "dateModified": _moment(post["updated_at"]).isoformat(),
        "author": {"@type": "Person", "name": post["author"], "url": origin + author_url(post["author"])},
        "publisher": {"@type": "Organization", "name": site.name, "url": f"{origin}/blog/"},
        "isPartOf": blog,
        "articleSection": post["category"]["name"],
        "timeRequired": f"PT{post['reading_minutes']}M",
        **({"image": _absolute_with(origin, post["image"])} if post.get("image") else {}),
    }


@pages.api_route("/blog/posts/{ref}", methods=READ, include_in_schema=False)
async def post_page(request: Request, ref: str) -> Response:
    post = await _post_at(request, ref)
    language = _language(request)
    if post is None:
        return _not_found(request, language.gettext(
            "There is no post here. It may have been deleted, or the address may be mistyped."))
    canonical = post_url(post["id"], post["title"])
    if request.url.path != canonical:
        return RedirectResponse(canonical, status_code=301)
    category = post["category"]
    comments = await request.app.state.comments.comments_of(post["id"])  # None: unavailable now
    return _render(
        request, "post.html",
        comments=None if comments is None else [
            {**comment, "html": Markup(comment["html"]),  # noqa: S704 - sanitised by the comments service (nh3)
             "created": _when(comment["created_at"], language), "author_url": author_url(comment["author"])}
            for comment in comments],
        post={**with_tag_links(post), "created": _when(post["created_at"], language),
              "updated": _when(post["updated_at"], language), "author_url": author_url(post["author"]),
              "category": {**category, "url": category_url(category["slug"])}},
        content=Markup(post["html"]),  # noqa: S704 - sanitised by rendering.markdown_html (nh3)
        title=post["title"], description=post["description"] or post["title"], og_type="article",
        structured_data=_blog_posting(_origin(request), _site(request), post),
        og_image=_absolute(request, post.get("image")),
        page_kind="post",
    )


# --- the writing pages (the script shows their forms to a logged-in writer) ---
@pages.api_route("/blog/write", methods=READ, include_in_schema=False)
async def write_page(request: Request) -> Response:
    return _render(request, "write.html", title=_language(request).gettext("Write a post"), page_kind="write",
                   noindex=True, categories=await _categories(_service(request)), post=None)


@pages.api_route("/blog/posts/{ref}/edit", methods=READ, include_in_schema=False)
async def edit_page(request: Request, ref: str) -> Response:
    post = await _post_at(request, ref)
    language = _language(request)
    if post is None:
        return _not_found(request, language.gettext("There is no post here to edit. It may have been deleted."))
    return _render(request, "write.html", title=language.gettext("Edit “%(title)s”") % {"title": post["title"]},
                   page_kind="edit", noindex=True, categories=await _categories(_service(request)),
                   post={**post, "url": post_url(post["id"], post["title"])})


@pages.api_route("/blog/login", methods=READ, include_in_schema=False)
async def login_page(request: Request) -> Response:
    language = _language(request)
    return _render(request, "login.html", title=language.gettext("Log in"), page_kind="login", noindex=True,
                   description=language.gettext("Log in to write on %(site)s.") % {"site": _site(request).name})


@pages.api_route("/blog/register", methods=READ, include_in_schema=False)
async def register_page(request: Request) -> Response:
    language = _language(request)
    return _render(request, "register.html", title=language.gettext("Register"), page_kind="register", noindex=True,
                   description=language.gettext("Make an account to write on %(site)s.") % {"site": _site(request).name})


# --- feeds, sitemap, robots, colours, icon, the script's words -----------------
async def _feed_entries(service: Blog, slug: str | None) -> list[dict[str, Any]]:
    posts = await service.repository.recent_posts(FEED_SIZE, slug)
    return [{**post, "html": markdown_html(post["content"]), "summary": plain_text(post["content"], 200)}
            for post in posts]


def _site_file(request: Request, template: str, media_type: str, **context: Any) -> Response:
    """A file for machines (a feed, the sitemap, robots.txt): the same for every reader, in the site's language."""
    body = templates(_site(request).language).get_template(template).render(origin=_origin(request), **context)
    return Response(body, media_type=media_type, headers=_FILE_HEADERS)


def _feed(request: Request, entries: list[dict[str, Any]], title: str, self_path: str, page_path: str) -> Response:
    updated = max((entry["updated_at"] for entry in entries), default=None)
    return _site_file(
        request, "feed.xml", "application/atom+xml; charset=utf-8",
        title=title, self_path=self_path, page_path=page_path, language=_site(request).language,
        updated=_atom_time(updated) if updated else datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        entries=[{**entry, "url": post_url(entry["id"], entry["title"]), "created": _atom_time(entry["created_at"]),
                  "updated": _atom_time(entry["updated_at"]), "author_url": author_url(entry["author"])}
                 for entry in entries],
    )


@pages.api_route("/blog/feed.xml", methods=READ, include_in_schema=False)
async def feed(request: Request) -> Response:
    service = _service(request)
    entries = await _cached(service, families.ALL_LISTS, "feed", lambda: _feed_entries(service, None))
    return _feed(request, entries, _site(request).name, "/blog/feed.xml", "/blog/")


@pages.api_route("/blog/sitemap.xml", methods=READ, include_in_schema=False)
async def sitemap(request: Request) -> Response:
    service = _service(request)
    posts = await _cached(service, families.ALL_LISTS, "sitemap", lambda: service.repository.post_index(SITEMAP_SIZE))
    authors: dict[str, str] = {}
    for post in posts:
        authors[post["author"]] = max(authors.get(post["author"], ""), post["updated_at"])
    return _site_file(
        request, "sitemap.xml", "application/xml; charset=utf-8",
        posts=[{"url": post_url(post["id"], post["title"]), "updated": _atom_time(post["updated_at"])} for post in posts],
        categories=[category_url(category["slug"]) for category in await _categories(service) if category["post_count"]],
        authors=[author_url(author) for author in sorted(authors)],
        # Only tags some public post has (a tag whose posts are all drafts or deleted has no page).
        tags=[tag_url(tag["slug"]) for tag in orjson.loads(await cached_popular_tags(service, SITEMAP_SIZE))],
    )


@pages.api_route("/blog/robots.txt", methods=READ, include_in_schema=False)
async def robots(request: Request) -> Response:
    """What crawlers may read: the pages, not the APIs or the forms; and where the sitemap is.

    Served here and, through the gateway, at /robots.txt (a crawler asks only there).
    """
    return _site_file(request, "robots.txt", "text/plain; charset=utf-8")


@pages.api_route("/blog/categories.css", methods=READ, include_in_schema=False)
async def category_colors(request: Request) -> Response:
    """Each category's badge colours: its own background, and black or white text, whichever contrasts more.

    A stylesheet, not style attributes: the pages' Content-Security-Policy allows no inline style.
    """
    rules = [f".cat-{int(category['id'])}{{background-color:{category['color']};color:{text_color_on(category['color'])}}}"
             for category in await _categories(_service(request)) if _COLOR.match(category["color"])]
    return _revalidated(request, "\n".join(rules) + "\n", "text/css; charset=utf-8")


def _revalidated(request: Request, text: str, media_type: str) -> Response:
    """`text` with an ETag, or 304 when the browser holds it already."""
    etag = '"' + hashlib.sha256(text.encode()).hexdigest()[:20] + '"'
    headers = {"Cache-Control": "no-cache", "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(text, media_type=media_type, headers=headers)


@lru_cache(maxsize=len(LANGUAGE_NAMES))
def _script_catalog(code: str) -> str:
    """blog.js's words in one language, as a script that hands them to it (a script from 'self': the CSP allows it)."""
    messages = orjson.dumps(languages()[code].script_messages, option=orjson.OPT_SORT_KEYS).decode()
    return f'"use strict";\nwindow.titaniumMessages = Object.freeze({messages});\n'


@lru_cache(maxsize=len(LANGUAGE_NAMES))
def script_messages_url(code: str) -> str | None:
    """Where a page in this language finds blog.js's words (none in English, the words blog.js is written in).

    The address changes with the words, so a browser never keeps old ones.
    """
    if not languages()[code].script_messages:
        return None
    version = hashlib.sha256(_script_catalog(code).encode()).hexdigest()[:12]
    return f"/blog/i18n/{code}.js?v={version}"


@pages.api_route("/blog/i18n/{code}.js", methods=READ, include_in_schema=False)
async def script_catalog(request: Request, code: str) -> Response:
    if code not in LANGUAGE_NAMES:
        return _not_found(request)
    return _revalidated(request, _script_catalog(code), "text/javascript; charset=utf-8")


@pages.api_route("/blog/favicon.ico", methods=READ, include_in_schema=False)
async def favicon() -> Response:
    return RedirectResponse("/blog/static/favicon.svg", status_code=301)


@pages.api_route("/blog/{rest:path}", methods=READ, include_in_schema=False)
async def unknown_page(request: Request, rest: str) -> Response:
    if rest == "api" or rest.startswith("api/"):
        # The API's paths answer in JSON, even to a HEAD that no API route takes (as before the pages).
        raise HTTPException(405, "Method Not Allowed")
    return _not_found(request)
