"""What a route does besides calling its endpoint, declared where the route is declared.

A behaviour (answering plain reads directly, honouring Idempotency-Key) is a
decorator on the endpoint; the route class of the service's routers,
`TitaniumRoute`, builds it into the route's request handler, the one
FastAPI makes a route's app from, both when the route is made and when a
router is included elsewhere (`include_router` builds its own app from the
handler). Nothing rewrites a route once it is registered, so the order of
calls in a service's `build()` cannot change what a route does.

    api = APIRouter(prefix="/blog/api", route_class=TitaniumRoute)

    @api.get("/posts")
    @plain_read(list_arguments)
    async def list_posts(...): ...

Decorators apply from the bottom up: the behaviour nearest the endpoint is
the innermost.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

# A route's request handler: what FastAPI runs for a request once it has routed it.
Handler = Callable[[Request], Coroutine[Any, Any, Response]]
# Makes a route's handler with the behaviour around the handler it is given.
Behaviour = Callable[[APIRoute, Handler], Handler]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
_BEHAVIOURS = "__titanium_behaviours__"


def with_behaviour(behaviour: Behaviour) -> Callable[[Endpoint], Endpoint]:
    """A decorator declaring `behaviour` on the route of the endpoint it decorates."""

    def declare(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, _BEHAVIOURS, (*behaviours_of(endpoint), behaviour))
        return endpoint

    return declare


def behaviours_of(endpoint: Callable[..., Any]) -> tuple[Behaviour, ...]:
    found: tuple[Behaviour, ...] = getattr(endpoint, _BEHAVIOURS, ())
    return found


class TitaniumRoute(APIRoute):
    """A FastAPI route with its endpoint's declared behaviours built into its handler."""

    def get_route_handler(self) -> Handler:
        handler: Handler = super().get_route_handler()
        for behaviour in behaviours_of(self.endpoint):
            handler = behaviour(self, handler)
        return handler


def add_routes(app: FastAPI, *routers: APIRouter) -> None:
    """Add the routers' routes to the app as they are declared (their paths carry the router's prefix).

    FastAPI's `include_router` puts a router behind a layer that it resolves
    on every request: 5 % of a cached read in the blog, measured. A router's
    prefix and dependencies are part of each route from its declaration, so
    adding the routes themselves loses nothing. A route whose endpoint
    declares behaviours must be a TitaniumRoute (they would be lost
    otherwise, however the router were added): refused here.
    """
    for router in routers:
        _check_behaviours_built(router.routes)
        app.router.routes.extend(router.routes)


def _check_behaviours_built(routes: Iterable[Any]) -> None:
    for route in routes:
        endpoint = getattr(route, "endpoint", None)
        if endpoint is not None and behaviours_of(endpoint) and not isinstance(route, TitaniumRoute):
            raise TypeError(f"{route.path}: its endpoint declares behaviours, but its router's route_class is "
                            f"{type(route).__name__}; give the router route_class=TitaniumRoute")
