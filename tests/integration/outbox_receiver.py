"""A small HTTP server that outbox tests deliver events to (run under uvicorn in a process of its own).

POST /events/{run}/{mode} records the event it is sent, then, by mode:
`ok` answers 200; `flaky` answers 503 to the first two deliveries of each
event and 200 after; `hang` never answers (a relay killed while waiting
on it). GET /received/{run} lists what one test's run was sent.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

FLAKY_FAILURES = 2
received: dict[str, list[dict[str, Any]]] = defaultdict(list)
never = asyncio.Event()


async def deliver(request: Request) -> Response:
    run, mode = request.path_params["run"], request.path_params["mode"]
    event = await request.json()
    earlier = sum(1 for seen in received[run] if seen["event"]["id"] == event["id"])
    received[run].append({"event": event, "mode": mode})
    if mode == "hang":
        await never.wait()
    if mode == "flaky" and earlier < FLAKY_FAILURES:
        return JSONResponse({"detail": "not now"}, status_code=503)
    return JSONResponse({"ok": True})


async def listing(request: Request) -> Response:
    return JSONResponse(received[request.path_params["run"]])


app = Starlette(routes=[Route("/events/{run}/{mode}", deliver, methods=["POST"]),
                        Route("/received/{run}", listing)])
