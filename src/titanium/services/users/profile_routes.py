"""Internal routes of profiles and follows, for auth (which has checked the caller's token) and the other services.

The gateway routes no path here (`/internal/...`). A path's `user_id` is the
signed-in user's, as auth read it from the token; `viewer` is the user whose
view of a profile is asked for (their own shows their email address).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request

from titanium.services.users.profiles import FollowingOneself, ProfileRepository
from titanium.services.users.profiles import Profile as StoredProfile
from titanium.services.users.schemas import OwnProfile, Profile, ProfileChange

router = APIRouter(prefix="/internal")
UserId = Annotated[int, Path(ge=1, lt=2**31)]
Username = Annotated[str, Path(min_length=1, max_length=64)]
# A page of posts names at most this many authors (the blog's API pages hold at most 100 posts).
MAX_NAMES_AT_ONCE = 100


async def _profiles(request: Request) -> ProfileRepository:
    return request.app.state.profiles


Profiles = Annotated[ProfileRepository, Depends(_profiles)]


def shown(profile: StoredProfile, *, to_owner: bool) -> dict[str, Any]:
    """The profile as its owner sees it (with the email address), or as anybody else does."""
    shape = OwnProfile if to_owner else Profile
    return shape.model_validate(profile, from_attributes=True).model_dump()


def _found(profile: StoredProfile | None) -> StoredProfile:
    if profile is None:
        raise HTTPException(404, "user not found")
    return profile


async def profile_of(profiles: ProfileRepository, username: str, viewer_id: int | None) -> dict[str, Any]:
    profile = _found(await profiles.by_username(username, viewer_id))
    return shown(profile, to_owner=profile.id == viewer_id)


@router.get("/profiles/{username}")
async def profile(username: Username, profiles: Profiles,
                  viewer: Annotated[int | None, Query(ge=1, lt=2**31)] = None) -> dict[str, Any]:
    return await profile_of(profiles, username, viewer)


@router.get("/users/{user_id}/profile")
async def own_profile(user_id: UserId, profiles: Profiles) -> dict[str, Any]:
    return shown(_found(await profiles.by_id(user_id)), to_owner=True)


@router.patch("/users/{user_id}/profile")
async def change_profile(user_id: UserId, change: ProfileChange, profiles: Profiles) -> dict[str, Any]:
    return shown(_found(await profiles.update(user_id, change.changes())), to_owner=True)


@router.put("/users/{user_id}/following/{username}")
async def follow(user_id: UserId, username: Username, profiles: Profiles) -> dict[str, Any]:
    try:
        followed = await profiles.follow(user_id, username)
    except FollowingOneself:
        raise HTTPException(422, "you cannot follow yourself") from None
    return shown(_found(followed), to_owner=False)


@router.delete("/users/{user_id}/following/{username}")
async def unfollow(user_id: UserId, username: Username, profiles: Profiles) -> dict[str, Any]:
    return shown(_found(await profiles.unfollow(user_id, username)), to_owner=False)


@router.get("/users/{user_id}/following")
async def following(user_id: UserId, profiles: Profiles) -> dict[str, object]:
    """Whom the user follows, ids and names (the blog's personal feed reads the posts of these authors)."""
    return {"user_id": user_id,
            "following": [{"id": each.id, "username": each.username} for each in await profiles.following(user_id)]}


@router.get("/users/{user_id}/follows")
async def follows(user_id: UserId, profiles: Profiles,
                  username: Annotated[list[str], Query(min_length=1, max_length=MAX_NAMES_AT_ONCE)]) -> dict[str, object]:
    """Whether the user follows each of these users (`?username=a&username=b...`): one call for a page of authors."""
    if any(not 1 <= len(name) <= 64 for name in username):
        raise HTTPException(422, "each username is 1 to 64 characters")
    followed = await profiles.followed_among(user_id, username)
    return {"user_id": user_id, "follows": {name: name.lower() in followed for name in username}}
