"""The one factory that builds a service: what every service needs, wired once.

A service passes its name, settings, lifespan and callbacks: the checks its
readiness depends on (name -> bool; its database), the checks that only
degrade it (its cache), and its figures for the status page. It gets
back an app with JSON errors, request ids, body limits, JSON access logs,
`/health`, `/health/ready`, `/status` and `/metrics`.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

from fastapi import FastAPI
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from titanium import __version__
from titanium.core.errors import install_error_handlers
from titanium.core.logging import configure_logging, get_logger
from titanium.core.metrics import metrics_endpoint
from titanium.core.middleware import RequestContextMiddleware
from titanium.core.settings import ServiceSettings
from titanium.core.tracing import UNTRACED_PATHS, configure_tracing
from titanium.core.tracing import shutdown as shutdown_tracing

Checks = Callable[[], Awaitable[dict[str, bool]]]
Figures = Callable[[], Awaitable[dict[str, Any]]]
Lifespan = Callable[[Any], AbstractAsyncContextManager[None]]
AppT = TypeVar("AppT", bound=Starlette)

log = get_logger(__name__)


async def _no_checks() -> dict[str, bool]:
    return {}


async def _no_figures() -> dict[str, Any]:
    return {}


@asynccontextmanager
async def _no_lifespan(_app: Starlette) -> AsyncIterator[None]:
    yield


def create_app(
    service: str,
    settings: ServiceSettings,
    *,
    app_class: type[AppT],
    lifespan: Lifespan = _no_lifespan,
    checks: Checks = _no_checks,
    soft_checks: Checks = _no_checks,
    figures: Figures = _no_figures,
    **app_options: Any,
) -> AppT:
    configure_logging(service, settings.log_level)
    tracer_provider = configure_tracing(service)
    started_at = time.time()

    @asynccontextmanager
    async def logged_lifespan(app: Starlette) -> AsyncIterator[None]:
        async with lifespan(app):
            log.info("service started", port=settings.port, env=settings.env, version=__version__)
            yield
        log.info("service stopped")
        shutdown_tracing()

    app = app_class(lifespan=logged_lifespan, **app_options)
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, service=service, max_body_bytes=settings.max_body_bytes)
    # Outermost of ours: the request's span covers everything the service does for it.
    app.add_middleware(OpenTelemetryMiddleware, tracer_provider=tracer_provider, excluded_urls=UNTRACED_PATHS,
                       exclude_spans=["receive", "send"])

    async def health(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "service": service})

    async def ready(_request: Request) -> JSONResponse:
        results = await checks()
        body = {"status": "ready" if all(results.values()) else "not ready", "service": service,
                "checks": _labels(results)}
        return JSONResponse(body, status_code=200 if all(results.values()) else 503)

    async def snapshot() -> dict[str, Any]:
        results = {**await checks(), **await soft_checks()}
        try:
            extra = await figures()
        except Exception as exc:
            log.warning("figures unavailable", error=repr(exc))
            extra = {}
        return {
            "service": service,
            "service_status": "online" if all(results.values()) else "degraded",
            "version": __version__,
            "pid": os.getpid(),
            "uptime_seconds": round(time.time() - started_at, 1),
            "checks": _labels(results),
            **extra,
        }

    async def status(_request: Request) -> JSONResponse:
        return JSONResponse(await snapshot())

    app.state.status_snapshot = snapshot
    # FastAPI labels only its own routes with their template (for metrics),
    # so the shared endpoints are added as FastAPI routes where it can.
    add = app.add_api_route if isinstance(app, FastAPI) else app.add_route
    for path, endpoint in (("/health", health), ("/health/ready", ready), ("/status", status),
                           ("/metrics", metrics_endpoint)):
        add(path, endpoint, methods=["GET"], include_in_schema=False)
    return app


def _labels(results: dict[str, bool]) -> dict[str, str]:
    return {name: "ok" if passed else "error" for name, passed in results.items()}
