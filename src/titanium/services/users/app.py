"""The users service: accounts, their passwords and profiles, and who follows whom.

`/internal/...` is for the other services only: the gateway routes no path
to it, and in a cluster the network policies let only auth reach it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from limits import RateLimitItem

from titanium.core.api_docs import errors
from titanium.core.app import create_app
from titanium.core.client_address import client_address
from titanium.core.database import create_engine, ping, warm_pool
from titanium.core.idempotency import build_key_store, idempotent, install_idempotency, keyed_request, mark_replayed
from titanium.core.logging import get_logger
from titanium.core.metrics import Outcome, business_counter
from titanium.core.passwords import hash_password, limit_concurrent_hashes, needs_rehash, use_hash_cost, verify_password
from titanium.core.ratelimit import RateLimiter, parse_limit
from titanium.core.routes import TitaniumRoute, add_routes
from titanium.core.settings import UsersSettings
from titanium.services.users import profile_routes, token_routes
from titanium.services.users.profiles import ProfileRepository
from titanium.services.users.repository import AccountTaken, Created, User, UserRepository
from titanium.services.users.schemas import Credentials, NewUser, PublicUser
from titanium.services.users.sessions import SessionRepository

log = get_logger(__name__)
router = APIRouter(route_class=TitaniumRoute)

REGISTRATIONS = business_counter("users_registrations_total", "Sign-ups by result")
OUTCOMES = (
    Outcome("POST", "/users", 201, REGISTRATIONS, "created"),
    Outcome("POST", "/users", 409, REGISTRATIONS, "taken"),
    Outcome("POST", "/users", 422, REGISTRATIONS, "invalid"),
)


@dataclass(frozen=True)
class RegistrationLimit:
    limiter: RateLimiter
    per_address: RateLimitItem


async def repository(request: Request) -> UserRepository:
    return request.app.state.repository


Repository = Annotated[UserRepository, Depends(repository)]


def _public(user: User) -> PublicUser:
    return PublicUser(id=user.id, username=user.username, email=user.email)


async def _registering_address(request: Request) -> str:
    """Whose Idempotency-Keys a registration's key is among: its address's."""
    return f"address:{client_address(request.scope)}"


@router.post("/users", status_code=201, response_model=PublicUser, responses=errors(400, 409, 422, 429))
@idempotent(_registering_address)
async def register(new_user: NewUser, request: Request, response: Response, users: Repository) -> PublicUser:
    """Make an account; then sign in with POST /api/login.

    A name ever given (even a deleted account's) is 409; common or guessable passwords and reserved
    names are 422. Limited per address (429). With an `Idempotency-Key`, a retry gets the first answer.
    """
    keyed = keyed_request(request)
    # A retry of a registration done before (perhaps by another process) is answered before any
    # limit: it makes nothing.
    created = await users.made_by(keyed) if keyed else None
    if created is None:
        await _within_registration_limit(request)
        if (refusal := await users.refusal(new_user.username, str(new_user.email))) is not None:
            raise HTTPException(409, refusal)  # before the hash: a taken name costs no 64 MiB
        password_hash = await hash_password(new_user.password, sign_up=True)
        try:
            created = await users.create(new_user.username, str(new_user.email), password_hash, keyed)
        except AccountTaken as exc:
            raise HTTPException(409, exc.detail) from None
    return _answer(created, response)


def _answer(created: Created, response: Response) -> PublicUser:
    if created.replayed:
        mark_replayed(response)
    return _public(created.user)


async def _within_registration_limit(request: Request) -> None:
    limit: RegistrationLimit = request.app.state.registration_limit
    address = client_address(request.scope)
    decision = await limit.limiter.hit(limit.per_address, "registration", address)
    if not decision.allowed:
        log.warning("registration rate limited", address=address)
        raise HTTPException(429, "too many accounts registered from this address; try again later",
                            {"Retry-After": str(decision.retry_after)})


@router.get("/users/{username}")
async def get_user(username: str, request: Request) -> dict[str, Any]:
    """Anybody's view of a profile (no email address): the owner's own view comes through auth."""
    return await profile_routes.profile_of(request.app.state.profiles, username, viewer_id=None)


@router.post("/internal/credentials/verify", response_model=PublicUser)
async def verify_credentials(credentials: Credentials, users: Repository) -> PublicUser:
    user = await (users.by_username(credentials.username) if credentials.username is not None
                  else users.by_email(credentials.email or ""))
    # Verified even when the user is unknown, so both refusals take as long.
    if not await verify_password(user.password_hash if user else None, credentials.password) or user is None:
        raise HTTPException(401, "invalid username or password")
    if needs_rehash(user.password_hash):
        await users.replace_password_hash(user.id, await hash_password(credentials.password))
    return _public(user)


def build(settings: UsersSettings | None = None) -> FastAPI:
    settings = settings or UsersSettings()
    assert settings.users_database_url is not None
    engine = create_engine(settings.users_database_url, settings.database_pool_size)
    users = UserRepository(engine)
    limit_concurrent_hashes(settings.password_hashes_at_once)
    use_hash_cost(settings.password_hash_time_cost, settings.password_hash_memory_kib)
    limiter = RateLimiter(settings.redis_url, settings.redis_prefix)
    idempotency_keys = build_key_store(settings.redis_url, settings.redis_prefix)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.repository = users
        app.state.profiles = ProfileRepository(engine)
        app.state.sessions = SessionRepository(engine)
        app.state.registration_limit = RegistrationLimit(limiter, parse_limit(settings.registration_rate_limit_per_address))
        await warm_pool(engine)
        yield
        await idempotency_keys.close()
        await engine.dispose()

    async def checks() -> dict[str, bool]:
        return {"database": await ping(engine)}

    async def soft_checks() -> dict[str, bool]:
        return {"rate_limit_store": await limiter.shared_store_ok()}

    async def figures() -> dict[str, int]:
        return {"user_count": await users.count()}

    app = create_app("users", settings, app_class=FastAPI, lifespan=lifespan, checks=checks, soft_checks=soft_checks,
                     figures=figures, outcomes=OUTCOMES, title="Titanium users", docs_url=None, redoc_url=None)
    # In Redis when the service is given one (replicas share it), else in this process's memory;
    # the account itself records its key too (users.request_key), docs/adr/0009-idempotency-keys.md.
    install_idempotency(app, "users", idempotency_keys)
    add_routes(app, router, token_routes.router, profile_routes.router)
    return app
