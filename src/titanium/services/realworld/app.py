"""The RealWorld ("Conduit") API, served at /realworld/api on the platform's own services (ADR 20).

A stateless adapter: it owns no data and checks no token. Each RealWorld
request becomes calls to the platform's own APIs (users and auth for
accounts, profiles and follows; the blog for articles, tags, favourites and
the feed; the comments service for comments), so accounts, tokens,
revocation, idempotency, limits and metrics are the platform's, and an
article is a post of the blog.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from titanium.core.app import create_app
from titanium.core.routes import add_routes
from titanium.core.settings import RealworldSettings
from titanium.services.realworld import accounts, articles, comments, errors
from titanium.services.realworld.upstream import Upstreams


def build(settings: RealworldSettings | None = None) -> FastAPI:
    settings = settings or RealworldSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.upstreams = Upstreams.from_settings(settings)
        yield
        await app.state.upstreams.aclose()

    app = create_app("realworld", settings, app_class=FastAPI, lifespan=lifespan, title="Titanium RealWorld API",
                     docs_url=None, redoc_url=None, openapi_url="/realworld/api/openapi.json")
    errors.install(app)
    add_routes(app, accounts.router, articles.router, comments.router)
    return app
