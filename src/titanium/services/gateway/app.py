"""The gateway: the platform's one public entry.

It forwards the public routes the registry lists (core/registry.py) and
nothing else: a path that is not on the list is a 404 here, so no service's
internal endpoint (the users service's credential check above all) can be
reached from outside, however the path is spelt or encoded.

Every request counts against its client's budget first, its operators'
paths (`/metrics`, `/status`, `/health`) included: they are public here too.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from titanium.core.app import create_app
from titanium.core.client_address import client_address
from titanium.core.errors import error_response
from titanium.core.ratelimit import RateLimiter, parse_limit
from titanium.core.registry import SERVICES, PublicRoute, public_routes, replica_urls
from titanium.core.replicas import ReplicaSet
from titanium.core.settings import GatewaySettings
from titanium.services.gateway import api_document
from titanium.services.gateway.cross_origin import allowing_origins, methods_of
from titanium.services.gateway.proxy import RouteLabels, forward, readiness_check, upstream_session

# A path parameter put into an upstream path: one plain segment (a username, say).
_PLAIN_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def upstream_path(route: PublicRoute) -> Callable[[Scope], str | None]:
    """How the route's upstream path is made from a request (None: 404)."""
    if route.upstream is None:
        return _same_path
    template = route.upstream

    def filled(scope: Scope) -> str | None:
        values = scope["path_params"]
        if not all(_PLAIN_SEGMENT.match(value) and value.strip(".") for value in values.values()):
            return None
        return template.format(**{name: quote(value, safe="") for name, value in values.items()})

    return filled


def _same_path(scope: Scope) -> str | None:
    # Forward the path as the client encoded it, but refuse dot segments: a
    # proxy or server behind may resolve them and leave the routed prefix.
    if any(segment in (".", "..") for segment in scope["path"].split("/")):
        return None
    raw_path: bytes = scope.get("raw_path") or b""
    return raw_path.decode("latin-1") or quote(scope["path"])


class Budget:
    """Every request counts against its client's budget: the gateway's own operators' paths and unknown paths too."""

    def __init__(self, app: ASGIApp, settings: GatewaySettings, limiter: RateLimiter) -> None:
        self.app = app
        self.trusted_proxy_hops = settings.trusted_proxy_hops
        self.limit = parse_limit(settings.rate_limit_per_address)
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = client_address(scope, self.trusted_proxy_hops)
        decision = await self.limiter.hit(self.limit, "gateway", client)
        if not decision.allowed:
            refusal = error_response(429, "too many requests from this address; slow down",
                                     {"Retry-After": str(decision.retry_after)})
            await refusal(scope, receive, send)
            return
        scope["titanium.client"] = client
        await self.app(scope, receive, send)


class Forwarder:
    """The ASGI endpoint of one public route: the request forwarded to the service that owns it."""

    def __init__(self, service: str, route: PublicRoute) -> None:
        self.service = service
        self.route = route
        self.upstream_path = upstream_path(route)
        # The service's own route templates, as its answers name them: the labels of this route's figures.
        self.labels = RouteLabels(fallback=route.path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = self.upstream_path(scope)
        if path is None:
            await error_response(404, "Not Found")(scope, receive, send)
            return
        query: bytes = scope["query_string"]
        path_and_query = path + ("?" + query.decode("latin-1") if query else "")
        state = scope["app"].state
        await forward(state.session, scope, receive, send, state.upstreams[self.service], path_and_query,
                      scope["titanium.client"], self.labels, safe_to_resend=self.route.safe_to_resend,
                      honours_idempotency_key=self.route.honours_idempotency_key)


def build(settings: GatewaySettings | None = None) -> Starlette:
    settings = settings or GatewaySettings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with upstream_session(settings.upstream_connect_timeout, settings.upstream_read_timeout,
                                    settings.upstream_max_connections) as session:
            app.state.session = session
            is_ready = readiness_check(session)
            app.state.upstreams = {name: ReplicaSet(name, urls, is_ready) for name, urls in _upstreams(settings).items()}
            for upstream in app.state.upstreams.values():
                upstream.watch()
            yield
            await asyncio.gather(*(upstream.close() for upstream in app.state.upstreams.values()))

    async def figures() -> dict[str, Any]:
        # How many of each service's processes are in service: counts, never their addresses (this is public).
        upstreams: dict[str, ReplicaSet] = getattr(app.state, "upstreams", {})
        return {"upstreams": {name: {"in_service": sum(replica.in_service for replica in upstream.replicas),
                                     "total": len(upstream.replicas)} for name, upstream in upstreams.items()}}

    async def soft_checks() -> dict[str, bool]:
        return {"rate_limit_store": await limiter.shared_store_ok()}

    limiter = RateLimiter(settings.redis_url, settings.redis_prefix, exact=False)
    app = create_app("gateway", settings, lifespan=lifespan, soft_checks=soft_checks, figures=figures,
                     app_class=Starlette, public=True,
                     middleware=[Middleware(Budget, settings=settings, limiter=limiter)])
    # A path that is not on the list is a 404, never a redirect: Starlette would
    # redirect "/api/register/" to the same path on whatever Host the client sent.
    app.router.redirect_slashes = False
    for entry, route in public_routes():
        # An ASGI callable, not a function: Starlette runs it as it is, with no request and response objects.
        endpoint = allowing_origins(Forwarder(entry.name, route), route, settings.cors_origins)
        app.router.routes.append(Route(route.path, endpoint, methods=methods_of(route, settings.cors_origins)))
    app.router.routes += api_document.routes()  # its own: the platform's API document
    return app


def _upstreams(settings: GatewaySettings) -> dict[str, list[str]]:
    """Each service's processes that the gateway forwards to: one address, or several from `titanium up --replicas`."""
    return {entry.name: replica_urls(getattr(settings, f"{entry.name}_url")) for entry in SERVICES if entry.public_routes}
