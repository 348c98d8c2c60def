"""The one factory that builds a service: what every service needs, wired once.

A service passes its name, settings, lifespan and callbacks: the checks its
readiness depends on (name -> bool; its database), the checks that only
degrade it (its cache), its figures for the status page, and the business
events its answers count (`Outcome`s). It gets back an app with JSON errors,
request ids, body limits, load shedding, JSON access logs, traces,
`/health`, `/health/ready`, `/status` and `/metrics`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.middleware import Middleware

from titanium import __version__
from titanium.core.accesslog import AccessLog
from titanium.core.errors import install_error_handlers
from titanium.core.health import Checks, Figures, ServiceHealth, no_checks, no_figures
from titanium.core.logging import configure_logging, get_logger
from titanium.core.metrics import Outcome, metrics_endpoint
from titanium.core.middleware import RequestContextMiddleware
from titanium.core.paths import HEALTH_PATH, METRICS_PATH, READY_PATH, STATUS_PATH
from titanium.core.runtime import tune_garbage_collector
from titanium.core.settings import ServiceSettings
from titanium.core.tracing import add_server_spans, configure_tracing
from titanium.core.tracing import shutdown as shutdown_tracing

Lifespan = Callable[[Any], AbstractAsyncContextManager[None]]
AppT = TypeVar("AppT", bound=Starlette)

log = get_logger(__name__)


@asynccontextmanager
async def _no_lifespan(_app: Starlette) -> AsyncIterator[None]:
    yield


def create_app(
    service: str,
    settings: ServiceSettings,
    *,
    app_class: type[AppT],
    lifespan: Lifespan = _no_lifespan,
    checks: Checks = no_checks,
    soft_checks: Checks = no_checks,
    figures: Figures = no_figures,
    outcomes: Iterable[Outcome] = (),
    public: bool = False,
    middleware: Sequence[Middleware] = (),
    **app_options: Any,
) -> AppT:
    """The service's app; `public` for the one the world reaches (the gateway): its answers carry no
    route header, and its `/status` no process id (what is internal stays inside). `middleware`: the
    service's own, run inside the shared one, so that what it answers is counted and logged too."""
    configure_logging(service, settings.log_level)
    tracer_provider = configure_tracing(service)
    access_log = AccessLog(service)

    @asynccontextmanager
    async def logged_lifespan(app: Starlette) -> AsyncIterator[None]:
        async with lifespan(app):
            tune_garbage_collector()
            log.info("service started", port=settings.port, env=settings.env, version=__version__)
            yield
        access_log.flush()
        log.info("service stopped")
        shutdown_tracing()

    fastapi = hasattr(app_class, "add_api_route")  # not imported here: the gateway runs on Starlette alone
    if fastapi:
        # Spans come from our own middleware below, as in the Starlette
        # gateway; FastAPI's built-in telemetry would make a second set.
        app_options.setdefault("telemetry", {"tracing": False, "metrics": False, "logs": False})
    app = app_class(lifespan=logged_lifespan, **app_options)
    app.state.settings = settings
    install_error_handlers(app, fastapi=fastapi)
    for own in reversed(middleware):  # each added one wraps those before it: the first given is the outer
        app.add_middleware(own.cls, *own.args, **own.kwargs)
    app.add_middleware(RequestContextMiddleware, service=service, max_body_bytes=settings.max_body_bytes,
                       max_in_flight=settings.max_in_flight, access_log=access_log, outcomes=outcomes,
                       label_answers=not public)
    # Outermost of ours: the request's span covers everything the service does for it.
    add_server_spans(app, tracer_provider)

    health = ServiceHealth(service, checks, soft_checks, figures, show_pid=not public)
    app.state.status_snapshot = health.snapshot
    # FastAPI labels only its own routes with their template (for metrics),
    # so the shared endpoints are added as FastAPI routes where it can.
    add = app.add_api_route if fastapi else app.add_route  # type: ignore[attr-defined]
    for path, endpoint in ((HEALTH_PATH, health.health), (READY_PATH, health.ready), (STATUS_PATH, health.status),
                           (METRICS_PATH, metrics_endpoint)):
        add(path, endpoint, methods=["GET"], include_in_schema=False)
    return app
