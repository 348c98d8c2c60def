"""The platform's JSON in RealWorld's shapes, and RealWorld's article slugs.

A post is an article: its slug is "<id>-<its title in lower case, words
joined by hyphens>", and the id alone decides which post a slug names (the
title may change; old links keep working). Dates are the blog's ISO 8601.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import HTTPException

_NOT_WORD = re.compile(r"[^\w]+")
_SLUG = re.compile(r"^([1-9][0-9]{0,9})(?:-.*)?$", re.DOTALL)
SLUG_TITLE_LENGTH = 60
POST_ID_LIMIT = 2**31


def slug_of(post: dict[str, Any]) -> str:
    words = _NOT_WORD.sub("-", str(post["title"]).lower()).strip("-_")[:SLUG_TITLE_LENGTH].strip("-_")
    return f"{post['id']}-{words}" if words else str(post["id"])


def post_id_of(slug: str) -> int:
    """The id a slug names; 404 for one that names none (the blog answers 404 for an id it does not hold)."""
    found = _SLUG.match(slug)
    if found is None or int(found.group(1)) >= POST_ID_LIMIT:
        raise HTTPException(404, "article not found")
    return int(found.group(1))


def tag_slug(name: str) -> str:
    """A tag's name as the blog's tag filter takes it (the blog's rule, content.slugify)."""
    return " ".join(name.split()).lower().replace(" ", "-")


def profile(found: dict[str, Any]) -> dict[str, Any]:
    """A platform profile (users service, through auth) as RealWorld's Profile."""
    return {"username": found["username"], "bio": found.get("bio"), "image": found.get("image"),
            "following": bool(found.get("followed", False))}


def unknown_profile(username: str) -> dict[str, Any]:
    """The profile of an author whose account is gone: their posts stay, signed with the name."""
    return {"username": username, "bio": None, "image": None, "following": False}


def user(own: dict[str, Any], token: str) -> dict[str, Any]:
    """The signed-in user's own profile with their token, as RealWorld's User."""
    return {"user": {"email": own["email"], "token": token, "username": own["username"], "bio": own.get("bio"),
                     "image": own.get("image")}}


def article(post: dict[str, Any], author: dict[str, Any], *, with_body: bool = True) -> dict[str, Any]:
    """A post as RealWorld's Article (a list's articles have no body, as the spec's list answer says)."""
    shaped = {
        "slug": slug_of(post), "title": post["title"], "description": post.get("description") or "",
        "tagList": [tag["name"] for tag in post.get("tags", [])], "createdAt": post["created_at"],
        "updatedAt": post["updated_at"], "favorited": bool(post.get("favourited", False)),
        "favoritesCount": int(post.get("favourites_count", 0)), "author": author,
    }
    if with_body:
        shaped["body"] = post.get("content", "")
    return shaped


def comment(found: dict[str, Any], author: dict[str, Any]) -> dict[str, Any]:
    """A comment (comments service) as RealWorld's Comment: comments are never edited, so updatedAt is createdAt."""
    return {"id": found["id"], "createdAt": found["created_at"], "updatedAt": found.get("updated_at") or
            found["created_at"], "body": found["body"], "author": author}
