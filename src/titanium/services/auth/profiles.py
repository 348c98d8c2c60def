"""Profiles and follows: the caller's token is checked here (sessions.signed_in, sessions.viewer), and the users
service reads or makes the change at its `/internal/...` routes, as for every account change (ADR 10).

A profile is anybody's to read; its owner, recognised by their access token,
also sees their email address. Following, unfollowing, and changing one's
own profile need a token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import JSONResponse

from titanium.core.api_docs import BEARER, BEARER_OPTIONAL, errors
from titanium.services.auth.answers import Following, UserProfile
from titanium.services.auth.sessions import relayed, signed_in, users_call, viewer

if TYPE_CHECKING:
    from titanium.services.auth.app import Auth

router = APIRouter()
Username = Annotated[str, Path(min_length=1, max_length=64)]


def _service(request: Request) -> Auth:
    service: Auth = request.app.state.auth
    return service


@router.get("/auth/users/{username}", response_model=UserProfile, responses=errors(404, 422),
            openapi_extra=BEARER_OPTIONAL)
async def profile(username: Username, request: Request) -> JSONResponse:
    """Anybody's profile; its owner, sending their access token, also sees their email address."""
    service = _service(request)
    claims = await viewer(service, request)
    query = f"?viewer={claims['user_id']}" if claims else ""
    return relayed(await users_call(service, request, "GET", f"/internal/profiles/{quote(username, safe='')}{query}"))


@router.get("/auth/profile", response_model=UserProfile, responses=errors(401, 404, 503), openapi_extra=BEARER)
async def own_profile(request: Request) -> JSONResponse:
    """The caller's own profile, with their email address."""
    return await _callers_own(request, "GET", "/profile")


@router.patch("/auth/profile", response_model=UserProfile, responses=errors(401, 404, 422, 503),
              openapi_extra=BEARER)
async def change_profile(request: Request, change: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    """The caller's bio and image; their rules are the users service's (422 from there)."""
    # Sent twice, it leaves the same profile: another users process may answer it if the first died with it.
    return await _callers_own(request, "PATCH", "/profile", change, safe_to_resend=True)


@router.get("/auth/following", response_model=Following, responses=errors(401, 404, 503), openapi_extra=BEARER)
async def following(request: Request) -> JSONResponse:
    """Whom the caller follows."""
    return await _callers_own(request, "GET", "/following")


# Follow (PUT) or unfollow (DELETE): either, sent twice, leaves what it left once.
@router.post("/auth/users/{username}/follow", response_model=UserProfile, responses=errors(401, 404, 422, 503),
             openapi_extra=BEARER)
async def follow(username: Username, request: Request) -> JSONResponse:
    """Follow the user (once, however often asked; not oneself: 422); their profile as the caller now sees it."""
    return await _callers_own(request, "PUT", f"/following/{quote(username, safe='')}", safe_to_resend=True)


@router.delete("/auth/users/{username}/follow", response_model=UserProfile, responses=errors(401, 404, 422, 503),
               openapi_extra=BEARER)
async def unfollow(username: Username, request: Request) -> JSONResponse:
    """Stop following the user (no error if the caller did not); their profile as the caller now sees it."""
    return await _callers_own(request, "DELETE", f"/following/{quote(username, safe='')}", safe_to_resend=True)


async def _callers_own(request: Request, method: str, action: str, body: dict[str, Any] | None = None, *,
                       safe_to_resend: bool = False) -> JSONResponse:
    """The users service's answer at `/internal/users/{the caller's id}{action}`, once the caller's token is checked."""
    service = _service(request)
    claims = await signed_in(service, request)
    return relayed(await users_call(service, request, method, f"/internal/users/{claims['user_id']}{action}", body,
                                    safe_to_resend=safe_to_resend))
