"""The gateway: the platform's one public entry.

It forwards an explicit list of public routes and nothing else: a path that
is not on the list is a 404 here, so no service's internal endpoint (the
users service's credential check above all) can be reached from outside,
however the path is spelt or encoded.
"""

from __future__ import annotations

import asyncio
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
from titanium.core.middleware import RouteLabel
from titanium.core.ratelimit import RateLimiter, parse_limit
from titanium.core.settings import GatewaySettings
from titanium.core.topology import replica_urls
from titanium.services.gateway.balancer import Upstream
from titanium.services.gateway.proxy import client_address, forward, readiness_check, upstream_session

_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class RouteLabels:
    """The route label of a forwarded path: the template of the service's own route that takes it.

    One pattern, compiled once, tries the templates in the order the service
    matches them; a path none of them takes gets the one fallback label, so
    the labels stay as few as the service's routes.
    """

    def __init__(self, templates: tuple[tuple[str, tuple[str, ...]], ...], fallback: str) -> None:
        """`templates`: (template, the methods it answers), in the service's order of matching."""
        self._labels = [RouteLabel(template) for template, _ in templates]
        self._fallback = RouteLabel(fallback)
        self._pattern = re.compile("|".join(f"({_template_pattern(template)})" for template, _ in templates))
        # The templates without parameters (the post list, the categories) are found by a dict lookup
        # instead, where the pattern agrees that they take themselves (no earlier template takes them).
        self._exact = {label.path: label for label in self._labels
                       if "{" not in label.path and self._matched(label.path) is label}
        # Every (method, label) pair, for the series that exist from the start.
        self.route_labels = (*((method, template) for template, methods in templates for method in methods),
                             ("GET", fallback))

    def __call__(self, path: str) -> RouteLabel:
        return self._exact.get(path) or self._matched(path)

    def _matched(self, path: str) -> RouteLabel:
        match = self._pattern.fullmatch(path)
        return self._fallback if match is None or match.lastindex is None else self._labels[match.lastindex - 1]


def _template_pattern(template: str) -> str:
    """A route template as a regular expression: "{name}" is one path segment, "{name:path}" any path."""
    return "".join(".*" if part.endswith(":path}") else "[^/]+" if part.startswith("{") else re.escape(part)
                   for part in re.split(r"(\{[^}]*\})", template) if part)


# The blog's routes as the blog declares them (services/blog/app.py, pages.py),
# in its order: the gateway's figures for the blog split as the blog's own do.
BLOG_ROUTE_LABELS = RouteLabels((
    ("/blog/api/posts", ("GET", "POST")),
    ("/blog/api/posts/{post_id}", ("GET", "PATCH", "DELETE")),
    ("/blog/api/categories", ("GET",)),
    ("/blog/api/openapi.json", ("GET",)),
    ("/blog/api/{path:path}", ("GET",)),
    ("/blog/static/{asset}", ("GET",)),
    ("/blog/", ("GET",)),
    ("/blog/categories/{slug:path}/feed.xml", ("GET",)),
    ("/blog/categories/{slug:path}", ("GET",)),
    ("/blog/authors/{username}", ("GET",)),
    ("/blog/posts/{ref}", ("GET",)),
    ("/blog/write", ("GET",)),
    ("/blog/posts/{ref}/edit", ("GET",)),
    ("/blog/login", ("GET",)),
    ("/blog/register", ("GET",)),
    ("/blog/feed.xml", ("GET",)),
    ("/blog/sitemap.xml", ("GET",)),
    ("/blog/categories.css", ("GET",)),
    ("/blog/favicon.ico", ("GET",)),
), fallback="/blog/{rest:path}")


@dataclass(frozen=True)
class PublicRoute:
    """One public path and where it goes: (service, path there)."""

    path: str
    methods: tuple[str, ...]
    service: str
    target: Callable[[Scope], str | None]  # the upstream path; None means 404
    labels: RouteLabels | None = None  # when the service's own templates label the requests, not `path`
    # A POST that the service may answer twice without harm (a login makes
    # one more session): sent again to another process if the first died with it.
    safe_to_resend: bool = False
    # The service answers a write's Idempotency-Key once, from a store its
    # processes share (the blog, ADR 9): such a write is safe to send again.
    # Elsewhere (a refresh token, say) a resent write could do harm.
    honours_idempotency_key: bool = False


def _same_path(scope: Scope) -> str | None:
    # Forward the path as the client encoded it, but refuse dot segments: a
    # proxy or server behind may resolve them and leave the routed prefix.
    if any(segment in (".", "..") for segment in scope["path"].split("/")):
        return None
    raw_path: bytes = scope.get("raw_path") or b""
    return raw_path.decode("latin-1") or quote(scope["path"])


def _fixed(path: str) -> Callable[[Scope], str | None]:
    return lambda _scope: path


def _user_path(suffix: str = "") -> Callable[[Scope], str | None]:
    """A user's path at auth (which recognises the owner by their token); None for a name no user can have."""

    def target(scope: Scope) -> str | None:
        username = scope["path_params"]["username"]
        if not (_USERNAME.match(username) and username.strip(".")):
            return None
        return f"/auth/users/{quote(username, safe='')}{suffix}"

    return target


PUBLIC_ROUTES = (
    PublicRoute("/", ("GET", "HEAD"), "dashboard", _fixed("/")),
    PublicRoute("/dashboard/static/{asset:path}", ("GET", "HEAD"), "dashboard", _same_path),
    PublicRoute("/stats", ("GET",), "dashboard", _fixed("/api/stats")),
    PublicRoute("/blog", ("GET", "HEAD"), "blog", _same_path),
    PublicRoute("/blog/{rest:path}", ("GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"), "blog", _same_path,
                BLOG_ROUTE_LABELS, honours_idempotency_key=True),
    PublicRoute("/api/register", ("POST",), "users", _fixed("/users")),
    PublicRoute("/api/users", ("POST",), "users", _fixed("/users")),
    # The signed-in user's own account: auth checks the token, then has the users service make the change.
    PublicRoute("/api/users/me/password", ("PUT",), "auth", _fixed("/auth/password")),
    PublicRoute("/api/users/me", ("DELETE",), "auth", _fixed("/auth/account")),
    PublicRoute("/api/users/me", ("GET", "PATCH"), "auth", _fixed("/auth/profile")),
    PublicRoute("/api/users/me/following", ("GET",), "auth", _fixed("/auth/following")),
    PublicRoute("/api/users/{username}/follow", ("POST", "DELETE"), "auth", _user_path("/follow")),
    # Anybody's profile; its owner, recognised by their token at auth, also sees their email address.
    PublicRoute("/api/users/{username}", ("GET",), "auth", _user_path()),
    PublicRoute("/api/login", ("POST",), "auth", _fixed("/auth/login"), safe_to_resend=True),
    PublicRoute("/api/refresh", ("POST",), "auth", _fixed("/auth/refresh")),
    PublicRoute("/api/logout", ("POST",), "auth", _fixed("/auth/logout")),
    PublicRoute("/api/verify", ("GET",), "auth", _fixed("/auth/verify")),
    PublicRoute("/.well-known/jwks.json", ("GET",), "auth", _fixed("/auth/jwks")),
)


def _upstreams(settings: GatewaySettings) -> dict[str, list[str]]:
    """Each service's processes: one address, or several from `titanium up --replicas`."""
    return {
        "users": replica_urls(settings.users_url),
        "auth": replica_urls(settings.auth_url),
        "blog": replica_urls(settings.blog_url),
        "dashboard": replica_urls(settings.dashboard_url),
    }


class Forwarder:
    """The ASGI endpoint of one public route: the client's budget, then the request forwarded to its service."""

    def __init__(self, route: PublicRoute, settings: GatewaySettings, limiter: RateLimiter) -> None:
        self.route = route
        self.trusted_proxy_hops = settings.trusted_proxy_hops
        self.limit = parse_limit(settings.rate_limit_per_address)
        self.limiter = limiter

    @property
    def route_labels(self) -> tuple[tuple[str, str], ...] | None:
        """The (method, label) pairs of its requests, when they are labelled by the service's own templates."""
        return None if self.route.labels is None else self.route.labels.route_labels

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.route.labels is not None:
            scope["route"] = self.route.labels(scope["path"])
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
        path_and_query = path + ("?" + query.decode("latin-1") if query else "")
        state = scope["app"].state
        await forward(state.session, scope, receive, send, state.upstreams[self.route.service], path_and_query, client,
                      safe_to_resend=self.route.safe_to_resend,
                      honours_idempotency_key=self.route.honours_idempotency_key)


def build(settings: GatewaySettings | None = None) -> Starlette:
    settings = settings or GatewaySettings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with upstream_session(settings.upstream_connect_timeout, settings.upstream_read_timeout,
                                    settings.upstream_max_connections) as session:
            app.state.session = session
            is_ready = readiness_check(session)
            app.state.upstreams = {name: Upstream(name, urls, is_ready) for name, urls in _upstreams(settings).items()}
            yield
            await asyncio.gather(*(upstream.close() for upstream in app.state.upstreams.values()))

    async def figures() -> dict[str, Any]:
        upstreams: dict[str, Upstream] = getattr(app.state, "upstreams", {})
        return {"upstreams": {name: {replica.url: "in service" if replica.in_service else "out of service"
                                     for replica in upstream.replicas} for name, upstream in upstreams.items()}}

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
