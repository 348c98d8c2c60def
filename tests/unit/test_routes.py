"""A route's behaviours are declared on its endpoint and built in as the route is made (core/routes.py)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from titanium.core.routes import TitaniumRoute, add_routes, with_behaviour


def tagged(tag: str):
    """A behaviour that says, on the answer, that it ran (outermost tag last)."""

    def behaviour(_route, handler):
        async def tagging(request):
            response = await handler(request)
            response.headers.append("x-behaviour", tag)
            return response

        return tagging

    return with_behaviour(behaviour)


def router_with_a_tagged_route(route_class=TitaniumRoute) -> APIRouter:
    router = APIRouter(prefix="/things", route_class=route_class)

    @router.get("/{thing_id}")
    @tagged("outer")
    @tagged("inner")
    async def thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    return router


async def _get(app: FastAPI, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://unit") as client:
        return await client.get(path)


@pytest.mark.parametrize("include", [add_routes, lambda app, router: app.include_router(router)],
                         ids=["add_routes", "include_router"])
async def test_behaviours_run_in_their_declared_order_however_the_router_is_added(include):
    app = FastAPI()
    include(app, router_with_a_tagged_route())
    answer = await _get(app, "/things/7")
    assert answer.json() == {"id": 7}
    assert answer.headers.get_list("x-behaviour") == ["inner", "outer"], "the one nearest the endpoint innermost"


def test_a_router_that_would_lose_declared_behaviours_is_refused():
    from fastapi.routing import APIRoute

    with pytest.raises(TypeError, match="route_class=TitaniumRoute"):
        add_routes(FastAPI(), router_with_a_tagged_route(APIRoute))
