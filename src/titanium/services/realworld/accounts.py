"""RealWorld's users, current user and profiles, on the platform's accounts (users and auth services).

Registration is the users service's; a token is auth's (the login after a
registration is one more session, as on the platform's own pages). Login is
by email address, as RealWorld's is. The signed-in user may change their bio
and image here; their username, address and password are changed where the
platform changes them (a password change needs the current one, which
RealWorld's form does not ask for): sent here with a new value, a 422.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from titanium.services.realworld import shapes
from titanium.services.realworld.errors import ERRORS, NOT_FOUND_USER, expect
from titanium.services.realworld.upstream import token_of, upstreams

router = APIRouter(prefix="/realworld/api")
Username = Annotated[str, Path(min_length=1, max_length=64)]


class NewUser(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=128)


class LoginUser(BaseModel):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=128)


class UserChange(BaseModel):
    model_config = ConfigDict(extra="ignore")

    email: str | None = None
    username: str | None = None
    password: str | None = None
    bio: str | None = None
    image: str | None = None


class UserAnswer(BaseModel):
    user: dict[str, Any]


class ProfileAnswer(BaseModel):
    profile: dict[str, Any]


async def _session(request: Request, credentials: dict[str, str]) -> str:
    """A new access token for these credentials (auth's login, with its limits)."""
    answer = await upstreams(request).call(request, "auth", "POST", "/auth/login", json=credentials, token=False)
    token: str = expect(answer)["access_token"]
    return token


async def _own(request: Request, token: str | None = None) -> dict[str, Any]:
    own: dict[str, Any] = expect(await upstreams(request).call(request, "auth", "GET", "/auth/profile",
                                                                token=token or True))
    return own


@router.post("/users", status_code=201, response_model=UserAnswer, responses=ERRORS)
async def register(request: Request, user: Annotated[NewUser, Body(embed=True)]) -> dict[str, Any]:
    """Register (the users service's rules for names, addresses and passwords), and sign in."""
    answer = await upstreams(request).call(request, "users", "POST", "/users", json=user.model_dump(), token=False)
    if answer.status_code == 409:  # RealWorld says a taken name is invalid input
        raise HTTPException(422, answer.json().get("detail", "username or email already registered"))
    expect(answer, 201)
    token = await _session(request, {"username": user.username, "password": user.password})
    return shapes.user({"email": user.email, "username": user.username}, token)


@router.post("/users/login", response_model=UserAnswer, responses=ERRORS)
async def login(request: Request, user: Annotated[LoginUser, Body(embed=True)]) -> dict[str, Any]:
    """Sign in by email address and password."""
    token = await _session(request, {"email": user.email, "password": user.password})
    return shapes.user(await _own(request, token), token)


@router.get("/user", response_model=UserAnswer, responses=ERRORS)
async def current_user(request: Request) -> dict[str, Any]:
    """The signed-in user, with the token they sent."""
    return shapes.user(await _own(request), token_of(request) or "")


def _unchangeable(change: UserChange, own: dict[str, Any]) -> list[str]:
    """What the change asks that only the platform's own account pages do."""
    problems = []
    if change.username and change.username.lower() != own["username"].lower():
        problems.append("username: a username cannot be changed")
    if change.email and change.email.lower() != own["email"].lower():
        problems.append("email: the address is changed on the platform's account page")
    if change.password:
        problems.append("password: the password is changed on the platform's account page (it needs the current one)")
    return problems


@router.put("/user", response_model=UserAnswer, responses=ERRORS)
async def update_user(request: Request, user: Annotated[UserChange, Body(embed=True)]) -> dict[str, Any]:
    """Change the signed-in user's bio and image (username, email and password: see the module's note)."""
    own = await _own(request)
    if problems := _unchangeable(user, own):
        raise HTTPException(422, problems)
    profile_change = user.model_dump(include={"bio", "image"}, exclude_unset=True)
    if profile_change:
        own = expect(await upstreams(request).call(request, "auth", "PATCH", "/auth/profile", json=profile_change))
    return shapes.user(own, token_of(request) or "")


@router.get("/profiles/{username}", response_model=ProfileAnswer, responses=ERRORS | NOT_FOUND_USER)
async def get_profile(request: Request, username: Username) -> dict[str, Any]:
    """Anybody's profile; `following` is the caller's (false without a token)."""
    answer = await upstreams(request).call(request, "auth", "GET", f"/auth/users/{quote(username, safe='')}")
    return {"profile": shapes.profile(expect(answer))}


async def _follow(request: Request, username: str, method: str) -> dict[str, Any]:
    answer = await upstreams(request).call(request, "auth", method, f"/auth/users/{quote(username, safe='')}/follow")
    return {"profile": shapes.profile(expect(answer))}


@router.post("/profiles/{username}/follow", response_model=ProfileAnswer,
             responses=ERRORS | NOT_FOUND_USER)
async def follow(request: Request, username: Username) -> dict[str, Any]:
    """Follow a user (twice is once)."""
    return await _follow(request, username, "POST")


@router.delete("/profiles/{username}/follow", response_model=ProfileAnswer,
               responses=ERRORS | NOT_FOUND_USER)
async def unfollow(request: Request, username: Username) -> dict[str, Any]:
    """Stop following a user."""
    return await _follow(request, username, "DELETE")

