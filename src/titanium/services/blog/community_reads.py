"""What the list, post and author pages show of the community (issue 18): tags with their pages, popular tags,
an author's bio and avatar. Apart from community_pages.py so that pages.py can use them without a cycle."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import orjson

from titanium.services.blog import families

if TYPE_CHECKING:
    from titanium.services.blog.app import Blog

POPULAR_TAGS = 20


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
