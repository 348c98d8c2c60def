"""The gateway: the platform's one public entry.

It forwards an explicit list of public routes and nothing else: a path that
is not on the list is a 404 here, so no service's internal endpoint (the
users service's credential check above all) can be reached from outside,
however the path is spelt or encoded.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from titanium.core.app import create_app
from titanium.core.errors import error_response
from titanium.core.ratelimit import RateLimiter, parse_limit
from titanium.core.settings import GatewaySettings
from titanium.services.gateway.proxy import client_address, forward, upstream_session

_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class PublicRoute:
    """One public path and where it goes: (service, path there)."""

    path: str
    methods: tuple[str, ...]
    service: str
    target: Callable[[Request], str | None]  # the upstream path; None means 404


def _same_path(request: Request) -> str | None:
    # Forward the path as the client encoded it, but refuse dot segments: a
    # proxy or server behind may resolve them and leave the routed prefix.
    if any(segment in (".", "..") for segment in request.url.path.split("/")):
        return None
    return request.scope.get("raw_path", b"").decode("latin-1") or request.url.path


def _fixed(path: str) -> Callable[[Request], str | None]:
    return lambda _request: path


def _user_path(request: Request) -> str | None:
    username = request.path_params["username"]
    return f"/users/{quote(username, safe='')}" if _USERNAME.match(username) and username.strip(".") else None


PUBLIC_ROUTES = (
    PublicRoute("/", ("GET", "HEAD"), "dashboard", _fixed("/")),
    PublicRoute("/dashboard/static/{asset:path}", ("GET", "HEAD"), "dashboard", _same_path),
    PublicRoute("/stats", ("GET",), "dashboard", _fixed("/api/stats")),
    PublicRoute("/blog", ("GET", "HEAD"), "blog", _same_path),
    PublicRoute("/blog/{rest:path}", ("GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"), "blog", _same_path),
    PublicRoute("/api/register", ("POST",), "users", _fixed("/users")),
    PublicRoute("/api/users", ("POST",), "users", _fixed("/users")),
    PublicRoute("/api/users/{username}", ("GET",), "users", _user_path),
    PublicRoute("/api/login", ("POST",), "auth", _fixed("/auth/login")),
    PublicRoute("/api/verify", ("GET",), "auth", _fixed("/auth/verify")),
    PublicRoute("/.well-known/jwks.json", ("GET",), "auth", _fixed("/auth/jwks")),
)


def _upstreams(settings: GatewaySettings) -> dict[str, str]:
    return {
        "users": settings.users_url.rstrip("/"),
        "auth": settings.auth_url.rstrip("/"),
        "blog": settings.blog_url.rstrip("/"),
        "dashboard": settings.dashboard_url.rstrip("/"),
    }


def _endpoint(route: PublicRoute, settings: GatewaySettings, limiter: RateLimiter) -> Callable[[Request], Awaitable[Response]]:
    base_url = _upstreams(settings)[route.service]
    limit = parse_limit(settings.rate_limit_per_address)

    async def endpoint(request: Request) -> Response:
        client = client_address(request, settings.trusted_proxy_hops)
        decision = await limiter.hit(limit, "gateway", client)
        if not decision.allowed:
            return error_response(429, "too many requests from this address; slow down",
                                  {"Retry-After": str(decision.retry_after)})
        path = route.target(request)
        if path is None:
            return error_response(404, "Not Found")
        session: aiohttp.ClientSession = request.app.state.session
        return await forward(session, request, route.service, base_url, path, client)

    return endpoint


def build(settings: GatewaySettings | None = None) -> Starlette:
    settings = settings or GatewaySettings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with upstream_session(settings.upstream_connect_timeout, settings.upstream_read_timeout,
                                    settings.upstream_max_connections) as session:
            app.state.session = session
            yield

    async def figures() -> dict[str, Any]:
        return {"upstreams": _upstreams(settings)}

    async def soft_checks() -> dict[str, bool]:
        return {"rate_limit_store": await limiter.shared_store_ok()}

    limiter = RateLimiter(settings.redis_url, settings.redis_prefix, exact=False)
    app = create_app("gateway", settings, lifespan=lifespan, soft_checks=soft_checks, figures=figures,
                     app_class=Starlette)
    for route in PUBLIC_ROUTES:
        app.router.routes.append(Route(route.path, _endpoint(route, settings, limiter), methods=list(route.methods)))
    return app
