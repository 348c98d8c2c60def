"""Authors' profiles for the articles and comments the adapter answers: one call to auth a distinct author.

A page of articles names up to its limit of authors; their profiles are
asked for at once, with the caller's token (so `following` is the
caller's). An author whose profile cannot be had (an account deleted, auth
slow or down) is shown by name alone: the articles still answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request

from titanium.services.realworld import shapes
from titanium.services.realworld.upstream import upstreams


async def profile_answer(request: Request, username: str) -> dict[str, Any] | None:
    """The platform's profile of `username` as the caller sees it, or None when it cannot be had."""
    try:
        answer = await upstreams(request).call(request, "auth", "GET", f"/auth/users/{quote(username, safe='')}")
    except HTTPException:
        return None
    return answer.json() if answer.status_code == 200 else None


async def authors(request: Request, usernames: Iterable[str]) -> dict[str, dict[str, Any]]:
    """RealWorld profiles of these users, by username."""
    distinct = list(dict.fromkeys(usernames))
    found = await asyncio.gather(*(profile_answer(request, name) for name in distinct))
    return {name: shapes.profile(each) if each else shapes.unknown_profile(name)
            for name, each in zip(distinct, found, strict=True)}
