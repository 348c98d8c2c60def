"""The dashboard service: the live status page and the figures behind it.

`/api/stats` asks every service for its `/status` at once, with a short
timeout: a service that does not answer is shown "offline", it does not hold
the page up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from titanium.core.app import create_app
from titanium.core.http import http_client, propagated_headers
from titanium.core.metrics import UPSTREAM_ERRORS
from titanium.core.settings import DashboardSettings

WEB_DIR = Path(__file__).parent / "web"


async def _status_of(client: httpx.AsyncClient, name: str, base_url: str, headers: dict[str, str]) -> dict[str, Any]:
    try:
        answer = await client.get(base_url.rstrip("/") + "/status", headers=headers)
        answer.raise_for_status()
        return answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        UPSTREAM_ERRORS.labels("dashboard", name, type(exc).__name__).inc()
        return {"service": name, "service_status": "offline", "error": type(exc).__name__}


async def stats(request: Request) -> JSONResponse:
    """One entry per service: its status ("online", "degraded", "offline") and figures."""
    settings: DashboardSettings = request.app.state.settings
    client: httpx.AsyncClient = request.app.state.client
    others = {"gateway": settings.gateway_url, "users": settings.users_url, "auth": settings.auth_url,
              "blog": settings.blog_url}
    headers = propagated_headers(request)
    answers = await asyncio.gather(*(_status_of(client, name, url, headers) for name, url in others.items()))
    result = dict(zip(others, answers, strict=True))
    result["dashboard"] = await request.app.state.status_snapshot()
    return JSONResponse(result)


async def page(_request: Request) -> FileResponse:
    return FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})


def build(settings: DashboardSettings | None = None) -> Starlette:
    """The dashboard on Starlette alone: two routes and static files need nothing of FastAPI (5 MB a process)."""
    settings = settings or DashboardSettings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with http_client(settings.upstream_connect_timeout, settings.upstream_read_timeout) as client:
            app.state.client = client
            yield

    app = create_app("dashboard", settings, app_class=Starlette, lifespan=lifespan)
    app.router.routes.extend([
        Route("/api/stats", stats, methods=["GET"]),
        Route("/", page, methods=["GET"]),
        Mount("/dashboard/static", StaticFiles(directory=WEB_DIR / "static"), name="dashboard-static"),
    ])
    return app
