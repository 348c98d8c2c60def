"""The users service: accounts and their passwords.

`/internal/...` is for the other services only: the gateway routes no path
to it, and in a cluster the network policies let only auth reach it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request

from titanium.core.app import create_app
from titanium.core.client_address import client_address
from titanium.core.database import create_engine, ping, warm_pool
from titanium.core.idempotency import MemoryKeyStore, idempotent, install_idempotency
from titanium.core.metrics import Outcome, business_counter
from titanium.core.passwords import hash_password, limit_concurrent_hashes, needs_rehash, verify_password
from titanium.core.routes import TitaniumRoute, add_routes
from titanium.core.settings import UsersSettings
from titanium.services.users import token_routes
from titanium.services.users.repository import AccountTaken, User, UserRepository
from titanium.services.users.schemas import Credentials, NewUser, PublicUser
from titanium.services.users.sessions import SessionRepository

router = APIRouter(route_class=TitaniumRoute)

REGISTRATIONS = business_counter("users_registrations_total", "Sign-ups by result")
OUTCOMES = (
    Outcome("POST", "/users", 201, REGISTRATIONS, "created"),
    Outcome("POST", "/users", 409, REGISTRATIONS, "taken"),
    Outcome("POST", "/users", 422, REGISTRATIONS, "invalid"),
)


async def repository(request: Request) -> UserRepository:
    return request.app.state.repository


Repository = Annotated[UserRepository, Depends(repository)]


def _public(user: User) -> PublicUser:
    return PublicUser(id=user.id, username=user.username, email=user.email)


async def _registering_address(request: Request) -> str:
    """Whose Idempotency-Keys a registration's key is among: its address's."""
    return f"address:{client_address(request.scope)}"


@router.post("/users", status_code=201, response_model=PublicUser)
@idempotent(_registering_address)
async def register(new_user: NewUser, users: Repository) -> PublicUser:
    password_hash = await hash_password(new_user.password)
    try:
        user = await users.create(new_user.username, str(new_user.email), password_hash)
    except AccountTaken:
        raise HTTPException(409, "username or email already registered") from None
    return _public(user)


@router.get("/users/{username}", response_model=PublicUser)
async def get_user(username: str, users: Repository) -> PublicUser:
    user = await users.by_username(username)
    if user is None:
        raise HTTPException(404, "user not found")
    return _public(user)


@router.post("/internal/credentials/verify", response_model=PublicUser)
async def verify_credentials(credentials: Credentials, users: Repository) -> PublicUser:
    user = await users.by_username(credentials.username)
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

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.repository = users
        app.state.sessions = SessionRepository(engine)
        await warm_pool(engine)
        yield
        await engine.dispose()

    async def checks() -> dict[str, bool]:
        return {"database": await ping(engine)}

    async def figures() -> dict[str, int]:
        return {"user_count": await users.count()}

    app = create_app("users", settings, app_class=FastAPI, lifespan=lifespan, checks=checks, figures=figures,
                     outcomes=OUTCOMES, title="Titanium users", docs_url=None, redoc_url=None)
    # In this process's memory: the users service has no Redis (docs/adr/0009-idempotency-keys.md).
    install_idempotency(app, "users", MemoryKeyStore())
    add_routes(app, router, token_routes.router)
    return app
