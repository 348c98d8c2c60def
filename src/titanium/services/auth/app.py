"""The auth service: login, token issue and verification, and the public keys.

It holds no accounts: it asks the users service whether a password is right,
then signs a token with its private key. Anyone can check a token with the
public key it publishes at `/auth/jwks`, and whether it was revoked with the
list it publishes at `/auth/revocations` (sessions.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from limits import RateLimitItem

from titanium.core import tokens
from titanium.core.api_docs import BEARER, errors
from titanium.core.app import create_app
from titanium.core.authn import CHALLENGE, LocalKeys, TokenChecker, revocations_over_http
from titanium.core.client_address import client_address
from titanium.core.http import SAFE_TO_RESEND, http_client, propagated_headers
from titanium.core.logging import get_logger
from titanium.core.metrics import UPSTREAM_ERRORS, Outcome, business_counter, failure_reason
from titanium.core.ratelimit import RateLimiter, parse_limit
from titanium.core.revocation import RevocationList, RevocationsUnavailable
from titanium.core.routes import add_routes
from titanium.core.settings import AuthSettings
from titanium.services.auth import profiles, sessions
from titanium.services.auth.answers import KeySet, TokenPair, Verified
from titanium.services.auth.schemas import LoginRequest
from titanium.services.auth.sessions import failed as _failed

log = get_logger(__name__)
router = APIRouter()
KEY_FILE_NAME = "jwt-ed25519.pem"

LOGINS = business_counter("auth_logins_total", "Logins by result")
OUTCOMES = (
    Outcome("POST", "/auth/login", 200, LOGINS, "success"),
    Outcome("POST", "/auth/login", 401, LOGINS, "failed"),
    Outcome("POST", "/auth/login", 429, LOGINS, "throttled"),
)


class Auth:
    def __init__(self, settings: AuthSettings, issuer: tokens.TokenIssuer, users: httpx.AsyncClient,
                 limiter: RateLimiter, verification_keys: list[Ed25519PublicKey] | None = None) -> None:
        self.settings = settings
        self.issuer = issuer
        # What verifies a token: the signing key, and the keys of a key change that only verify.
        self.keys = {issuer.jwk["kid"]: issuer.private_key.public_key()}
        for key in verification_keys or []:
            self.keys.setdefault(tokens.public_jwk(key)["kid"], key)
        # What the JWKS publishes: the signing key first, then the others.
        self.jwks = [issuer.jwk, *(tokens.public_jwk(key) for kid, key in self.keys.items() if kid != issuer.jwk["kid"])]
        self.users = users
        self.limiter = limiter
        self.revocations = RevocationList(revocations_over_http(users, "/internal/revocations"))
        self.tokens = TokenChecker(LocalKeys(self.keys, issuer.issuer, issuer.audience), self.revocations)
        self.per_address = parse_limit(settings.login_rate_limit_per_address)
        self.per_username_and_address = parse_limit(settings.login_rate_limit_per_username_and_address)
        self.failures_per_username = parse_limit(settings.login_rate_limit_per_username)

    def login_budgets(self, username: str, address: str) -> tuple[tuple[RateLimitItem, tuple[str, ...]], ...]:
        """The login budgets an attempt for `username` from `address` spends: the address's, and the username's from it."""
        return ((self.per_address, ("address", address)),
                (self.per_username_and_address, ("username-address", username, address)))

    async def refusal(self, username: str, request: Request) -> JSONResponse | None:
        """The 429 a signed-in user's password check gets while a login from this address would; counts nothing.

        An account change (a new password, a deletion) is no login: it must not spend the login
        budgets, but must not bypass a spent one either.
        """
        address = client_address(request.scope)
        for limit, identity in self.login_budgets(username, address):
            if await self.limiter.exhausted(limit, "login", *identity):
                log.warning("account change refused: login budget spent", limit=identity[0], username=username)
                return _too_many("too many login attempts; try again later", 60)
        return await _failures_refusal(self, username, address)

    async def count_wrong_password(self, username: str, request: Request) -> None:
        """A wrong password given for a signed-in account: a guess, counted as a failed login is."""
        for limit, identity in self.login_budgets(username, client_address(request.scope)):
            await self.limiter.hit(limit, "login", *identity)
        await self.limiter.hit(self.failures_per_username, "login-failures", username)



# An address that signed in as a user is remembered this long: spent once, this limit marks it known.
KNOWN_ADDRESS = parse_limit("1/30 days")


async def auth(request: Request) -> Auth:
    return request.app.state.auth


AuthDep = Annotated[Auth, Depends(auth)]


def _too_many(message: str, retry_after: int) -> JSONResponse:
    return _failed(429, message, {"Retry-After": str(retry_after)})


async def _refusal(service: Auth, username: str, address: str) -> JSONResponse | None:
    """The 429 this login gets, if any: the address's budget, the username's from it (each spent by one), the
    username's failures."""
    for limit, identity in service.login_budgets(username, address):
        decision = await service.limiter.hit(limit, "login", *identity)
        if not decision.allowed:
            log.warning("login rate limited", limit=identity[0], username=username)
            return _too_many("too many login attempts; try again later", decision.retry_after)
    return await _failures_refusal(service, username, address)


async def _failures_refusal(service: Auth, username: str, address: str) -> JSONResponse | None:
    """The 429 when the username's failed logins are spent and this address never signed in as it."""
    if (await service.limiter.exhausted(service.failures_per_username, "login-failures", username)
            and not await service.limiter.exhausted(KNOWN_ADDRESS, "login-known", username, address)):
        log.warning("login refused: too many failures for the account", username=username)
        return _too_many("too many failed logins for this account; try again later, or from a device that "
                         "signed in before", 60)
    return None


@router.post("/auth/login", response_model=TokenPair, responses=errors(401, 422, 429, 503))
async def login(credentials: LoginRequest, request: Request, service: AuthDep) -> JSONResponse:
    """Sign in: a new session's access and refresh tokens.

    Attempts are limited per address, per username from an address, and failed ones per username
    (429 with `Retry-After`).
    """
    username, address = credentials.login_name, client_address(request.scope)
    if (refused := await _refusal(service, username, address)) is not None:
        return refused
    try:
        # A check changes nothing: another users process may answer it if the first died with it.
        answer = await service.users.post("/internal/credentials/verify", json=credentials.model_dump(exclude_none=True),
                                          headers=propagated_headers(request), extensions={SAFE_TO_RESEND: True})
    except httpx.HTTPError as exc:
        UPSTREAM_ERRORS.labels("auth", "users", failure_reason(exc)).inc()
        log.error("users service unreachable", error=repr(exc))
        return JSONResponse({"detail": "login is unavailable right now; try again shortly"}, 503)
    if answer.status_code == 401:
        await service.limiter.hit(service.failures_per_username, "login-failures", username)
        return _failed(401, "invalid email or password" if credentials.email else
                       "invalid username or password")
    if answer.status_code != 200:
        UPSTREAM_ERRORS.labels("auth", "users", "bad_status").inc()
        log.error("users service failed the credential check", status=answer.status_code)
        return JSONResponse({"detail": "login is unavailable right now; try again shortly"}, 503)
    user = answer.json()
    await service.limiter.hit(KNOWN_ADDRESS, "login-known", username, address)
    return JSONResponse(await sessions.new_session(service, request, user["id"], user["username"]))


@router.get("/auth/verify", response_model=Verified, responses=errors(400, 401, 503), openapi_extra=BEARER)
async def verify(request: Request, service: AuthDep) -> JSONResponse:
    """The claims of the access token sent, if auth accepts it (signed, current, not revoked).

    400 when no `Authorization: Bearer` header is sent (the seed's contract), 401 for a token not accepted.
    """
    # The seed's contract: a missing or malformed header is a 400 here (API.md), a bad token a 401.
    token = tokens.bearer_token(request.headers.get("authorization"))
    if token is None:
        return _failed(400, "an 'Authorization: Bearer <token>' header is required")
    try:
        claims = await service.tokens.verify(token)
    except RevocationsUnavailable:
        return _failed(503, sessions.UNAVAILABLE, {"Retry-After": "1"})
    except tokens.TokenError as exc:
        return _failed(401, str(exc), CHALLENGE)
    return JSONResponse({"status": "success", "data": claims})


@router.get("/auth/jwks", response_model=KeySet)
@router.get("/.well-known/jwks.json", response_model=KeySet)
async def jwks(service: AuthDep) -> JSONResponse:
    """The public keys that verify access tokens (a JWKS, RFC 7517): the signing key first."""
    return JSONResponse({"keys": service.jwks}, headers={"Cache-Control": "public, max-age=300"})


def signing_key(settings: AuthSettings) -> Any:
    if settings.jwt_private_key:
        return tokens.load_private_key(settings.jwt_private_key)
    if settings.jwt_private_key_file:
        return tokens.load_private_key(settings.jwt_private_key_file.read_bytes())
    # The embedded default only (production refuses to start without a key).
    return tokens.load_or_create_key_file(settings.data_dir / "keys" / KEY_FILE_NAME)


def verification_keys(settings: AuthSettings) -> list[Ed25519PublicKey]:
    """The keys that verify tokens but never sign them (a key change's previous or next key)."""
    if settings.jwt_verification_keys:
        return tokens.load_public_keys(settings.jwt_verification_keys)
    if settings.jwt_verification_keys_file:
        return tokens.load_public_keys(settings.jwt_verification_keys_file.read_text())
    return []


def build(settings: AuthSettings | None = None) -> FastAPI:
    settings = settings or AuthSettings()
    issuer = tokens.TokenIssuer(signing_key(settings), settings.jwt_issuer, settings.jwt_audience,
                                settings.token_ttl_seconds)
    limiter = RateLimiter(settings.redis_url, settings.redis_prefix)
    also_verifying = verification_keys(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with http_client(1.0, 5.0, base_url=settings.users_url, service="users") as client:
            app.state.auth = Auth(settings, issuer, client, limiter, also_verifying)
            # Which keys this process holds: what an operator checks during a key change.
            log.info("token keys", signing_kid=issuer.jwk["kid"],
                     verification_kids=[jwk["kid"] for jwk in app.state.auth.jwks[1:]])
            yield

    async def soft_checks() -> dict[str, bool]:
        return {"rate_limit_store": await limiter.shared_store_ok()}

    app = create_app("auth", settings, app_class=FastAPI, lifespan=lifespan, soft_checks=soft_checks,
                     outcomes=OUTCOMES, title="Titanium auth", docs_url=None, redoc_url=None)
    add_routes(app, router, sessions.router, profiles.router)
    return app
