"""Sessions: a login's token pair, its renewal, sign-out, and the account changes that end every session.

Access tokens live minutes; a refresh token renews the pair and is spent
doing so. The families and the revocation list are kept by the users
service in its database (docs/adr/0010-revocable-tokens.md); auth checks
the caller's access token, then asks it to record the change.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from titanium.core import tokens
from titanium.core.api_docs import BEARER, errors
from titanium.core.http import SAFE_TO_RESEND, propagated_headers
from titanium.core.logging import get_logger
from titanium.core.metrics import UPSTREAM_ERRORS, failure_reason
from titanium.services.auth.answers import SignedOut, TokenPair
from titanium.services.auth.schemas import (
    AccountDeletionRequest,
    LogoutRequest,
    PasswordChangeRequest,
    RefreshRequest,
)

if TYPE_CHECKING:
    from titanium.services.auth.app import Auth

log = get_logger(__name__)
router = APIRouter()
UNAVAILABLE = "sign-in is unavailable right now; try again shortly"
# Beyond an access token's own expiry: the leeway verifiers give it, and some clock skew.
EXPIRY_MARGIN_SECONDS = 60


def failed(status_code: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    # "status"/"message" are the seed's login shape; "detail" is every error's.
    return JSONResponse({"status": "failed", "message": message, "detail": message}, status_code, headers)


def unauthorized(message: str) -> JSONResponse:
    return failed(401, message, {"WWW-Authenticate": "Bearer"})


async def users_call(service: Auth, request: Request, method: str, path: str,
                     body: dict[str, Any] | None = None, *, safe_to_resend: bool = False) -> httpx.Response:
    """A call to the users service; 503 (as an HTTPException) when it cannot answer.

    `safe_to_resend`: the call may go to another users process when the one that had it died with it.
    """
    try:
        answer = await service.users.request(method, path, json=body, headers=propagated_headers(request),
                                             extensions={SAFE_TO_RESEND: safe_to_resend})
    except httpx.HTTPError as exc:
        UPSTREAM_ERRORS.labels("auth", "users", failure_reason(exc)).inc()
        log.error("users service unreachable", error=repr(exc), path=path)
        raise HTTPException(503, UNAVAILABLE, {"Retry-After": "1"}) from None
    if answer.status_code >= 500:
        UPSTREAM_ERRORS.labels("auth", "users", "bad_status").inc()
        log.error("users service failed", status=answer.status_code, path=path)
        raise HTTPException(503, UNAVAILABLE, {"Retry-After": "1"})
    return answer


def revoke_until(service: Auth) -> float:
    """When every access token issued until now has expired: what a revocation needs to cover."""
    return time.time() + service.settings.token_ttl_seconds + EXPIRY_MARGIN_SECONDS


async def new_session(service: Auth, request: Request, user_id: int, username: str) -> dict[str, Any]:
    """A fresh token pair, its refresh family recorded by the users service: the body of a login's answer."""
    refresh_token = tokens.new_refresh_token()
    answer = await users_call(service, request, "POST", "/internal/sessions", {
        "user_id": user_id, "token_hash": tokens.refresh_token_hash(refresh_token),
        "expires_at": time.time() + service.settings.refresh_token_ttl_seconds},
        # Sent twice, it starts one session: users answers a token it has just stored with its family.
        safe_to_resend=True)
    if answer.status_code == 404:  # the account was deleted a moment ago
        raise HTTPException(401, "invalid username or password", {"WWW-Authenticate": "Bearer"})
    if answer.status_code != 201:
        log.error("users service refused to start a session", status=answer.status_code)
        raise HTTPException(503, UNAVAILABLE, {"Retry-After": "1"})
    return token_pair(service, user_id, username, answer.json()["family_id"], refresh_token)


def token_pair(service: Auth, user_id: int, username: str, family_id: str, refresh_token: str) -> dict[str, Any]:
    token = service.issuer.issue(user_id, username, family_id)
    return {
        "status": "success",
        "token": token,
        "access_token": token,
        "token_type": "bearer",
        "expires_in": service.settings.token_ttl_seconds,
        "refresh_token": refresh_token,
        "refresh_expires_in": service.settings.refresh_token_ttl_seconds,
        "user": {"id": user_id, "username": username},
    }


async def signed_in(service: Auth, request: Request, *, revoked_ok: bool = False) -> dict[str, Any]:
    """The claims of the request's access token (401 or 503 as an HTTPException otherwise)."""
    return await service.tokens.claims_of(request, revoked_ok=revoked_ok)


async def viewer(service: Auth, request: Request) -> dict[str, Any] | None:
    """The claims of the request's access token when it has one that `signed_in` accepts; else None.

    For reads that anybody may make and a signed-in user sees more of: a
    missing, bad, expired or revoked token gets what anybody gets (and so
    does any token while the revocation list cannot be had).
    """
    if "authorization" not in request.headers:
        return None
    try:
        return await signed_in(service, request)
    except StarletteHTTPException:  # core/authn.py's refusals (FastAPI's HTTPException is a kind of it)
        return None


@router.post("/auth/refresh", response_model=TokenPair, responses=errors(401, 422, 503))
async def refresh(body: RefreshRequest, request: Request) -> JSONResponse:
    """A new token pair for a refresh token, which is used up: sent again, it ends its whole session (401)."""
    service: Auth = request.app.state.auth
    new_token = tokens.new_refresh_token()
    answer = await users_call(service, request, "POST", "/internal/sessions/renew", {
        "token_hash": tokens.refresh_token_hash(body.refresh_token),
        "new_token_hash": tokens.refresh_token_hash(new_token),
        "expires_at": time.time() + service.settings.refresh_token_ttl_seconds,
        "revoke_until": revoke_until(service)})
    if answer.status_code == 401:
        refusal = answer.json()["detail"]
        if refusal["reason"] == "reused":
            service.revocations.expire()
            log.warning("refresh token reused: its session ended")
        return unauthorized(refusal["message"])
    if answer.status_code != 200:
        log.error("users service refused a renewal", status=answer.status_code)
        return failed(503, UNAVAILABLE, {"Retry-After": "1"})
    renewed = answer.json()
    return JSONResponse(token_pair(service, renewed["user_id"], renewed["username"], renewed["family_id"], new_token))


@router.post("/auth/logout", response_model=SignedOut, responses=errors(401, 422, 503), openapi_extra=BEARER)
async def logout(request: Request, body: LogoutRequest | None = None) -> JSONResponse:
    """Sign out: the access token is revoked at once, and the session (refresh token) ended."""
    service: Auth = request.app.state.auth
    # Signing out twice is no error: a revoked token may end its session again.
    claims = await signed_in(service, request, revoked_ok=True)
    body = body or LogoutRequest()
    await users_call(service, request, "POST", "/internal/sessions/end", {
        "user_id": claims["user_id"], "jti": claims["jti"], "session_id": claims.get("sid"),
        "token_hash": tokens.refresh_token_hash(body.refresh_token) if body.refresh_token else None,
        "revoke_until": revoke_until(service)})
    service.revocations.expire()
    return JSONResponse({"status": "success", "message": "signed out"})


@router.put("/auth/password", response_model=TokenPair, responses=errors(401, 403, 404, 422, 429, 503),
            openapi_extra=BEARER)
async def change_password(change: PasswordChangeRequest, request: Request) -> JSONResponse:
    """The new password; every earlier token void; a new token pair for the caller, who stays signed in."""
    service: Auth = request.app.state.auth
    claims, refused = await _account_change(service, request, "PUT", "/password", change.model_dump())
    if refused is not None:
        return refused
    return JSONResponse(await new_session(service, request, claims["user_id"], claims["username"]))


@router.delete("/auth/account", status_code=204, responses=errors(401, 403, 404, 422, 429, 503), openapi_extra=BEARER)
async def delete_account(deletion: AccountDeletionRequest, request: Request) -> Response:
    """Delete the caller's account (their password again, 403 if wrong); every token of theirs stops working."""
    service: Auth = request.app.state.auth
    _claims, refused = await _account_change(service, request, "POST", "/delete", {"password": deletion.password})
    return refused or Response(status_code=204)


async def _account_change(service: Auth, request: Request, method: str, action: str,
                          body: dict[str, Any]) -> tuple[dict[str, Any], JSONResponse | None]:
    """A change to the caller's account made by the users service, which voids every earlier token.

    The caller's claims, and the refusal to answer with when the change was not made.
    """
    claims = await signed_in(service, request)
    if (refused := await service.refusal(claims["username"].lower(), request)) is not None:
        return claims, refused
    answer = await users_call(service, request, method, f"/internal/users/{claims['user_id']}{action}",
                              {**body, "revoke_until": revoke_until(service)})
    if answer.status_code == 403:  # a wrong password: a guess
        await service.count_wrong_password(claims["username"].lower(), request)
    if answer.status_code != 204:
        return claims, _passed_on(answer)
    service.revocations.expire()
    return claims, None


def _passed_on(answer: httpx.Response) -> JSONResponse:
    """The users service's refusal (403 wrong password, 404 no such user, 422 a weak new password), as it said it."""
    if answer.status_code in (403, 404, 422):
        return JSONResponse({"detail": answer.json()["detail"]}, answer.status_code)
    log.error("users service gave an unexpected answer", status=answer.status_code)
    return failed(503, UNAVAILABLE, {"Retry-After": "1"})


def relayed(answer: httpx.Response) -> JSONResponse:
    """The users service's answer as it gave it (200), or its refusal (`_passed_on`)."""
    if answer.status_code == 200:
        return JSONResponse(answer.json())
    return _passed_on(answer)


@router.get("/auth/revocations")
async def revocations(request: Request) -> JSONResponse:
    """The revocation list after a version, for the services that check tokens (never routed from outside)."""
    service: Auth = request.app.state.auth
    after = request.query_params.get("after", "0")
    if not (after.isascii() and after.isdigit() and len(after) < 19):
        raise HTTPException(422, "after must be a version number")
    answer = await users_call(service, request, "GET", f"/internal/revocations?after={after}")
    if answer.status_code != 200:
        return failed(503, UNAVAILABLE, {"Retry-After": "1"})
    return JSONResponse(answer.json())
