"""The bare reference proxy: every request forwarded to REFERENCE_UPSTREAM over one pooled aiohttp session.

The whole answer is read, then returned as a plain Response: the simplest fast
proxy, to set the gateway's cost against. run.py serves it with uvicorn
(uvloop, httptools, no access log), one process.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

UPSTREAM = os.environ["REFERENCE_UPSTREAM"]
# Headers of one connection (RFC 9110, 7.6.1), and those each server writes for itself.
NOT_FORWARDED = frozenset({"connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "host",
                           "content-length", "date", "server"})


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with aiohttp.ClientSession(UPSTREAM) as session:
        app.state.session = session
        yield


async def forward(request: Request) -> Response:
    headers = {name: value for name, value in request.headers.items() if name not in NOT_FORWARDED}
    async with request.app.state.session.request(request.method, request.url.path, params=request.url.query,
                                                 headers=headers, data=await request.body() or None) as answer:
        body = await answer.read()
        returned = {name: value for name, value in answer.headers.items() if name.lower() not in NOT_FORWARDED}
    return Response(body, answer.status, headers=returned)


app = Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])],
                lifespan=lifespan)
