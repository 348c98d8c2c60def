"""The gateway: the platform's one public entry.

It forwards an explicit list of public routes and nothing else: a path that
is not on the list is a 404 here, so no service's internal endpoint (the
users service's credential check above all) can be reached from outside,
however the path is spelt or encoded.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

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
    target: Callable[[Scope], str | None]  # the upstream path; None means 404


def _same_path(scope: Scope) -> str | None:
    # Forward the path as the client encoded it, but refuse dot segments: a
    # proxy or server behind may resolve them and leave the routed prefix.
    if any(segment in (".", "..") for segment in scope["path"].split("/")):
        return None
    raw_path: bytes = scope.get("raw_path") or b""
    return raw_path.decode("latin-1") or quote(scope["path"])


def _fixed(path: str) -> Callable[[Scope], str | None]:
    return lambda _scope: path


def _user_path(scope: Scope) -> str | None:
    username = scope["path_params"]["username"]
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


class Forwarder:
    """The ASGI endpoint of one public route: the client's budget, then the request forwarded to its service."""

    def __init__(self, route: PublicRoute, settings: GatewaySettings, limiter: RateLimiter) -> None:
        self.route = route
        self.base_url = _upstreams(settings)[route.service]
        self.trusted_proxy_hops = settings.trusted_proxy_hops
        self.limit = parse_limit(settings.rate_limit_per_address)
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = client_address(scope, self.trusted_proxy_hops)
        decision = await self.limiter.hit(self.limit, "gateway", client)
        if not decision.allowed:
            refusal = error_response(429, "too many requests from this address; slow down",
                                     {"Retry-After": str(decision.retry_after)})
            await refusal(scope, receive, send)
            return
        path = self.route.target(scope)
        if path is None:
            await error_response(404, "Not Found")(scope, receive, send)
            return
        query: bytes = scope["query_string"]
        url = self.base_url + path + ("?" + query.decode("latin-1") if query else "")
        await forward(scope["app"].state.session, scope, receive, send, self.route.service, url, client)


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
    # A path that is not on the list is a 404, never a redirect: Starlette would
    # redirect "/api/register/" to the same path on whatever Host the client sent.
    app.router.redirect_slashes = False
    for route in PUBLIC_ROUTES:
        # An ASGI callable, not a function: Starlette runs it as it is, with no request and response objects.
        app.router.routes.append(Route(route.path, Forwarder(route, settings, limiter), methods=list(route.methods)))
    return app
