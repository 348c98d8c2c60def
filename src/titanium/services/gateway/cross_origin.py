"""Cross-origin requests (CORS) for the public routes that browsers may call from other sites' pages.

A RealWorld frontend served from elsewhere calls the RealWorld API from its
own origin: the browser asks first (a preflight OPTIONS) and reads the
answer only if it names that origin. The gateway answers for the routes
marked `cross_origin` in the registry, for the origins its settings list
(TITANIUM_CORS_ORIGINS, none by default), with Starlette's implementation of
the protocol. Tokens travel in the Authorization header, never in cookies,
so credentials are not allowed.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp

from titanium.core.errors import error_response
from titanium.core.registry import PublicRoute

# What a RealWorld client sends besides simple headers; and what it may read of an answer.
ALLOWED_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "X-Requested-With")
EXPOSED_HEADERS = ("Retry-After", "X-Request-Id", "Idempotent-Replayed")
PREFLIGHT_MAX_AGE = 600


class _CrossOrigin(CORSMiddleware):
    def preflight_response(self, request_headers: Headers) -> Response:
        answer = super().preflight_response(request_headers)
        if answer.status_code != 200:  # a refusal, in the platform's shape: "Disallowed CORS origin, method"
            return error_response(answer.status_code, bytes(answer.body).decode("utf-8"))
        return answer


def methods_of(route: PublicRoute, origins: list[str]) -> list[str]:
    """The route's methods, with the preflight's OPTIONS when browsers from elsewhere may call it."""
    return [*route.methods, "OPTIONS"] if route.cross_origin and origins else list(route.methods)


def allowing_origins(app: ASGIApp, route: PublicRoute, origins: list[str]) -> ASGIApp:
    """`app` (the route's forwarder), answering preflights and naming the allowed origins on its answers."""
    if not (route.cross_origin and origins):
        return app
    return _CrossOrigin(app, allow_origins=origins, allow_methods=[*route.methods], allow_headers=ALLOWED_HEADERS,
                          expose_headers=EXPOSED_HEADERS, max_age=PREFLIGHT_MAX_AGE)
