"""What the list, post and author pages show of the community (issue 18): tags with their pages, popular tags,
an author's bio and avatar. Apart from community_pages.py so that pages.py can use them without a cycle."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import orjson

from titanium.services.blog import families
from titanium.services.blog.repository import PostList

if TYPE_CHECKING:
    from titanium.services.blog.app import Blog

POPULAR_TAGS = 20


async def cached_list_page(service: Blog, offset: int, limit: int, category: str | None) -> bytes:
    """A page of all posts or of one category's, as cached for the API and the pages alike: one entry serves both.

    Its JSON is `[next cursor, post, ...]` (community_routes.split_cached cuts it without parsing).
    """
    async def load() -> list[Any]:
        page = await service.repository.list_page(PostList(category_slug=category), offset=offset, limit=limit)
        return [page.next_cursor, *page.posts]

    family = families.ALL_LISTS if category is None else families.category_lists(category)
    return await service.cache.get_or_load(family, f"{offset}:{limit}:paged", load) or b"[null]"


async def list_page_posts(service: Blog, offset: int, limit: int, category: str | None) -> list[dict[str, Any]]:
    """The posts of `cached_list_page`, for a page."""
    posts: list[dict[str, Any]] = orjson.loads(await cached_list_page(service, offset, limit, category))[1:]
    return posts


def tag_url(slug: str) -> str:
    return f"/blog/tags/{quote(slug, safe='/')}"


def with_tag_links(post: dict[str, Any]) -> dict[str, Any]:
    """A post's tags with the address of each one's page (the lists and the post page show them)."""
    return {**post, "tags": [{**tag, "url": tag_url(tag["slug"])} for tag in post.get("tags", ())]}


async def cached_popular_tags(service: Blog, limit: int) -> bytes:
    """The JSON of the `limit` most used tags, [{name, slug, count}] (the API's answer, and the list page's tags).

    Cached with the lists: every post write drops them.
    """
    async def load() -> list[dict[str, Any]]:
        return [{"name": tag["name"], "slug": tag["slug"], "count": tag["post_count"]}
                for tag in await service.repository.popular_tags(limit)]

    return await service.cache.get_or_load(families.ALL_LISTS, f"tags:{limit}", load) or b"[]"


async def popular_tags(service: Blog) -> list[dict[str, Any]]:
    """The most used tags with their pages' addresses, for the list page."""
    return [{**tag, "url": tag_url(tag["slug"])} for tag in orjson.loads(await cached_popular_tags(service, POPULAR_TAGS))]


async def author_profile(service: Blog, username: str) -> dict[str, Any] | None:
    """The author's bio and avatar from their profile (auth, users); None when it cannot be had: the page goes without."""
    if service.auth is None:
        return None
    try:
        answer = await service.auth.get(f"/auth/users/{quote(username, safe='')}")
        profile: dict[str, Any] = answer.json() if answer.status_code == 200 else {}
    except (httpx.HTTPError, ValueError):  # the profile is an extra: a failure leaves it out
        return None
    if not profile:
        return None
    return {"bio": profile.get("bio"), "image": profile.get("image"), "username": profile.get("username", username)}
