"""The platform's services, one entry each: what every part of the platform reads to know them.

The command-line tool, the supervisor, the gateway, the dashboard, the
metrics and the deployment checks all take the list of services from here,
so adding a service is its folder under `services/`, one entry below, and
its deploy files (which tests/deploy compares with this list).

An entry names the service, its port (as an offset from the gateway's), its
settings class (in core/settings.py), whether it owns a database, the
services it calls, and the public routes the gateway forwards to it. The
labels of a forwarded request's metrics are the service's own: each answer
carries the template of the route that took it (core/middleware.py), so no
route template is written twice.

Nothing here imports a service or a web framework: the supervisor reads it
too, and keeps none of those in memory.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

READS = ("GET", "HEAD")


@dataclass(frozen=True)
class PublicRoute:
    """One path the gateway forwards to the service that owns it.

    `upstream` is the path there: None for the same path as the client's;
    else a template whose `{name}` parts are the public path's parameters
    (each one path segment of plain characters, or the gateway answers 404).
    """

    path: str
    methods: tuple[str, ...]
    upstream: str | None = None
    # A POST that the service may answer twice without harm (a login makes
    # one more session): sent again to another process if the first died with it.
    safe_to_resend: bool = False
    # The service does a write with an Idempotency-Key once, from a store its
    # processes share (ADR 9): such a write is safe to send again.
    honours_idempotency_key: bool = False
    # Browsers may call it from the pages of the origins the gateway allows (TITANIUM_CORS_ORIGINS).
    cross_origin: bool = False


@dataclass(frozen=True)
class Service:
    name: str
    port_offset: int  # from the gateway's port: 8000 + offset by default
    settings: str  # its settings class, by name, in titanium.core.settings
    calls: tuple[str, ...] = ()  # the services it calls (each a `<name>_url` setting)
    database: bool = False  # owns a database (`<name>_database_url`, migrations in its folder)
    public_routes: tuple[PublicRoute, ...] = ()
    # Where its own OpenAPI document is (None: it has none); the gateway's
    # /api/openapi.json keeps the public routes' operations of each.
    openapi: str | None = "/openapi.json"
    # Public routes it answers itself, not forwarded: the gateway's API document.
    own_routes: tuple[PublicRoute, ...] = ()

    @property
    def app_module(self) -> str:
        """The module whose `build()` makes the service's app."""
        return f"titanium.services.{self.name}.app"

    def settings_class(self) -> type[BaseSettings]:
        settings_module = importlib.import_module("titanium.core.settings")
        found: type[BaseSettings] = getattr(settings_module, self.settings)
        return found


# In the order people see them (the dashboard's cards): the public entry first.
SERVICES: tuple[Service, ...] = (
    Service("gateway", 0, "GatewaySettings", calls=("users", "auth", "blog", "comments", "dashboard", "realworld"),
            openapi=None, own_routes=(
        PublicRoute("/api/openapi.json", ("GET",)),
        PublicRoute("/api/docs", ("GET",)),
        PublicRoute("/api/docs/{asset}", ("GET",)),
    )),
    Service("users", 1, "UsersSettings", database=True, public_routes=(
        PublicRoute("/api/register", ("POST",), "/users"),
        PublicRoute("/api/users", ("POST",), "/users"),
    )),
    Service("auth", 2, "AuthSettings", calls=("users",), public_routes=(
        # The signed-in user's own account: auth checks the token, then has the users service make the change.
        PublicRoute("/api/users/me/password", ("PUT",), "/auth/password"),
        PublicRoute("/api/users/me/following", ("GET",), "/auth/following"),
        PublicRoute("/api/users/me", ("DELETE",), "/auth/account"),
        PublicRoute("/api/users/me", ("GET", "PATCH"), "/auth/profile"),
        PublicRoute("/api/users/{username}/follow", ("POST", "DELETE"), "/auth/users/{username}/follow"),
        # Anybody's profile, after "me": its owner, recognised by their token at auth, also sees their email.
        PublicRoute("/api/users/{username}", ("GET",), "/auth/users/{username}"),
        PublicRoute("/api/login", ("POST",), "/auth/login", safe_to_resend=True),
        PublicRoute("/api/refresh", ("POST",), "/auth/refresh"),
        PublicRoute("/api/logout", ("POST",), "/auth/logout"),
        PublicRoute("/api/verify", ("GET",), "/auth/verify"),
        PublicRoute("/.well-known/jwks.json", ("GET",), "/auth/jwks"),
    )),
    Service("blog", 5, "BlogSettings", calls=("auth", "comments"), database=True, openapi="/blog/api/openapi.json",
            public_routes=(
        PublicRoute("/blog", READS),
        PublicRoute("/blog/{rest:path}", (*READS, "POST", "PATCH", "PUT", "DELETE"), honours_idempotency_key=True),
        PublicRoute("/robots.txt", READS, "/blog/robots.txt"),
    )),
    # Comments sit under the blog's post paths; public_routes() puts them before the blog's catch-all.
    Service("comments", 4, "CommentsSettings", calls=("auth", "blog"), database=True, public_routes=(
        PublicRoute("/blog/api/posts/{post_id}/comments", (*READS, "POST"), honours_idempotency_key=True),
        PublicRoute("/blog/api/posts/{post_id}/comments/{comment_id}", ("DELETE",), honours_idempotency_key=True),
    )),
    # RealWorld ("Conduit") clients: an adapter onto the platform's own APIs, holding nothing (ADR 20).
    # Its own document is RealWorld's (/realworld/api/openapi.json), not the platform's.
    Service("realworld", 6, "RealworldSettings", calls=("users", "auth", "blog", "comments"), openapi=None, public_routes=(
        PublicRoute("/realworld/api/{rest:path}", (*READS, "POST", "PUT", "DELETE"), honours_idempotency_key=True,
                    cross_origin=True),
    )),
    Service("dashboard", 3, "DashboardSettings", calls=("gateway", "users", "auth", "blog", "comments", "realworld"),
            openapi=None, public_routes=(
        PublicRoute("/", READS, "/"),
        PublicRoute("/dashboard/static/{asset:path}", READS),
        PublicRoute("/stats", ("GET",), "/api/stats"),
    )),
)

BY_NAME: dict[str, Service] = {service.name: service for service in SERVICES}
SERVICE_NAMES: tuple[str, ...] = tuple(BY_NAME)
GATEWAY_PORT = 8000
# The ports every service listens on unless told otherwise; `titanium up
# --base-port` keeps these offsets.
DEFAULT_PORTS: dict[str, int] = {service.name: GATEWAY_PORT + service.port_offset for service in SERVICES}
DATABASE_OWNERS: tuple[str, ...] = tuple(service.name for service in SERVICES if service.database)
# Each further process of a service (`titanium up --replicas`) listens this
# many ports above the one before: every offset must stay below it.
REPLICA_PORT_STEP = 10
MAX_REPLICAS = 8
HIGHEST_PORT = 65_535


def public_routes() -> list[tuple[Service, PublicRoute]]:
    """Every public route with its service, in the order the gateway tries them.

    Each `:path` catch-all comes right after the routes under its prefix (the comments under /blog/...),
    so that they win over it, and after any catch-all under its prefix. These come before every other route:
    Starlette matches the routes one by one, and the catch-alls carry most requests (every blog read),
    which would otherwise each pay a match of every route before them (the blog's was the 20th).
    """
    routes = [(entry, route) for entry in SERVICES for route in entry.public_routes]
    catch_alls = [pair for pair in routes if _is_catch_all(pair[1])]
    # In the registry's order, but after any catch-all under its own prefix (stable sort).
    catch_alls.sort(key=lambda pair: sum(_prefix(other[1]).startswith(_prefix(pair[1])) for other in catch_alls))
    ordered: list[tuple[Service, PublicRoute]] = []
    for catch_all in catch_alls:
        ordered += [pair for pair in routes if pair not in ordered and not _is_catch_all(pair[1])
                    and pair[1].path.startswith(_prefix(catch_all[1]))]
        ordered.append(catch_all)
    return ordered + [pair for pair in routes if pair not in ordered]


def _is_catch_all(route: PublicRoute) -> bool:
    return ":path}" in route.path


def _prefix(route: PublicRoute) -> str:
    return route.path.split("{", 1)[0]


def start_order() -> list[str]:
    """The services in the order `titanium up` starts them: each after those it calls, where calls do not
    go both ways (the gateway and the dashboard call each other: then in the registry's order)."""
    calls = {entry.name: set(entry.calls) for entry in SERVICES}

    def one_way(entry: Service) -> set[str]:
        return {callee for callee in entry.calls if entry.name not in calls[callee]}

    started: list[str] = []
    waiting = list(SERVICES)
    while waiting:
        ready = next((entry for entry in waiting if set(entry.calls) <= set(started)), None) \
            or next((entry for entry in waiting if one_way(entry) <= set(started)), waiting[0])
        started.append(ready.name)
        waiting.remove(ready)
    return started


def service(name: str) -> Service:
    return BY_NAME[name]


def default_url(name: str) -> str:
    return f"http://127.0.0.1:{DEFAULT_PORTS[name]}"


def ports_from(base_port: int) -> dict[str, int]:
    """Every service's port when the gateway listens on `base_port` (the others keep their offsets)."""
    return {service.name: base_port + service.port_offset for service in SERVICES}


def replica_ports(base_port: int, replica: int) -> dict[str, int]:
    """Every service's port for its `replica`-th process (0 is the first): each further replica's
    ports are the first's moved up by 10, so the usual offsets hold (gateway 8010, blog 8015...)."""
    return ports_from(base_port + REPLICA_PORT_STEP * replica)


def replica_urls(value: str) -> list[str]:
    """The base URLs of a service's processes: `titanium up --replicas` runs several, and
    passes their addresses as one comma-separated value (in Kubernetes a Service is one URL)."""
    return [url.strip().rstrip("/") for url in value.split(",") if url.strip()]


def parse_replicas(text: str) -> dict[str, int]:
    """`blog=2,gateway=2` as {"blog": 2, "gateway": 2}; a ValueError that says what is wrong."""
    counts: dict[str, int] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        name, _, count = part.partition("=")
        name = name.strip()
        if name not in BY_NAME:
            raise ValueError(f"no service named {name!r} (services: {', '.join(SERVICE_NAMES)})")
        if not count.strip().isdigit() or not 1 <= int(count) <= MAX_REPLICAS:
            raise ValueError(f"{part!r}: write SERVICE=N with N from 1 to {MAX_REPLICAS}, e.g. blog=2")
        counts[name] = int(count)
    return counts


def check_base_port(base_port: int, replicas: dict[str, int] | None = None) -> None:
    """A ValueError when some process's port would fall outside 1024-65535 from this base port."""
    most = max((replicas or {}).values(), default=1)
    highest = base_port + REPLICA_PORT_STEP * (most - 1) + max(service.port_offset for service in SERVICES)
    if base_port < 1024 or highest > HIGHEST_PORT:
        raise ValueError(f"{base_port} would put the services on ports {base_port}-{highest}: "
                         f"give a base port from 1024 to {HIGHEST_PORT - (highest - base_port)}")
