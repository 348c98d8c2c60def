"""A small service built by `core/app.py`'s `create_app`, served in-process (httpx's ASGITransport).

What every Titanium service gets from the factory (request ids, the body
limit, shedding past the in-flight bound, security headers, JSON errors,
access lines, metrics) shows here in milliseconds, without a platform.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from titanium.core.app import create_app
from titanium.core.settings import ServiceSettings


class Gate:
    """Holds every request that reaches it until opened: requests in flight, on demand."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.waiting = 0
        self._changed = asyncio.Condition()

    async def pass_through(self) -> None:
        await self._count(+1)
        try:
            await self.opened.wait()
        finally:
            await asyncio.shield(self._count(-1))

    async def _count(self, change: int) -> None:
        async with self._changed:
            self.waiting += change
            self._changed.notify_all()

    async def holding(self, count: int) -> None:
        """Once `count` requests wait here (within 5 s): what a test waits for, rather than reading the count."""
        async with asyncio.timeout(5), self._changed:
            await self._changed.wait_for(lambda: self.waiting == count)


def build_service(service: str, *, max_body_bytes: int = 1024, max_in_flight: int = 8) -> tuple[Starlette, Gate]:
    """A service with an echo route, a slow route (held at its `Gate`), and a route with its own CSP."""
    settings = ServiceSettings(max_body_bytes=max_body_bytes, max_in_flight=max_in_flight)
    app = create_app(service, settings, app_class=Starlette)
    gate = Gate()

    async def echo(request: Request) -> Response:
        return JSONResponse({"received": len(await request.body())})

    async def slow(_request: Request) -> Response:
        await gate.pass_through()
        return JSONResponse({"done": True})

    async def framed(_request: Request) -> Response:
        return Response("ok", headers={"content-security-policy": "default-src 'none'"})

    app.add_route("/echo", echo, methods=["GET", "POST"])
    app.add_route("/slow", slow, methods=["GET"])
    app.add_route("/framed", framed, methods=["GET"])
    return app, gate


@asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """The app started (its lifespan run) and a client that calls it in this process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            yield client


def requests_counted(service: str, route: str, status: str) -> float:
    """`http_requests_total` of one service, route and status, as /metrics gives it."""
    labels = {"service": service, "route": route, "status": status}
    return sum(sample.value for metric in REGISTRY.collect() for sample in metric.samples
               if sample.name == "http_requests_total" and labels.items() <= sample.labels.items())
