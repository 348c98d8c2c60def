"""The dashboard service: the live status page and the figures behind it.

Every few seconds a background round asks every service for its `/status`
at once, with a short timeout, beside the scrape of their metrics; `/api/stats`
answers from the last round, so however many pages are open, the services
are asked once a round. A service that does not answer is shown
"offline"; it does not hold the page up. A service run as several processes (its TITANIUM_<SERVICE>_URL
lists one URL each) is asked at every one: "online" when all are, "offline"
when none answers, "degraded" in between, with how many answer in
`replicas`. Each entry also carries the service's golden signals
("signals"), which a background task gathers from every process's
`/metrics` (see `signals.py`).

What the public page may not show is left out: the gateway's upstream
addresses always, and the process ids of an answer that the gateway
forwards (a person's); the supervisor's tests and the load test ask the
dashboard directly and still get them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
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
from titanium.core.http import http_client
from titanium.core.metrics import UPSTREAM_ERRORS, failure_reason
from titanium.core.paths import STATUS_PATH
from titanium.core.registry import SERVICE_NAMES, replica_urls, service
from titanium.core.settings import DashboardSettings
from titanium.core.tracing import untraced
from titanium.services.dashboard.signals import Scraper

WEB_DIR = Path(__file__).parent / "web"
# Figures that name internal addresses: never in /stats.
INTERNAL_FIELDS = frozenset({"upstreams"})
# Figures that only the platform's own tools (asking the dashboard directly) get.
PRIVATE_FIELDS = frozenset({"pid", "pids"})



def _upstreams(settings: DashboardSettings) -> dict[str, list[str]]:
    """Each service's processes (every service of the registry but this one): the base URL of each."""
    urls = {name: getattr(settings, f"{name}_url") for name in service("dashboard").calls}
    # An empty setting stays one (unreachable) address: the service is shown offline, not left out.
    return {name: replica_urls(value) or [value] for name, value in urls.items()}


def _public(entry: dict[str, Any], forwarded: bool) -> dict[str, Any]:
    hidden = INTERNAL_FIELDS | PRIVATE_FIELDS if forwarded else INTERNAL_FIELDS
    return {key: value for key, value in entry.items() if key not in hidden}


async def _status_of(client: httpx.AsyncClient, name: str, base_url: str) -> dict[str, Any]:
    try:
        with untraced():  # a round is no one's request: it starts no trace
            answer = await client.get(base_url.rstrip("/") + STATUS_PATH)
        answer.raise_for_status()
        return answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        UPSTREAM_ERRORS.labels("dashboard", name, failure_reason(exc)).inc()
        return {"service": name, "service_status": "offline", "error": type(exc).__name__}


def _merged_checks(answers: list[dict[str, Any]]) -> dict[str, str]:
    """Each check as "ok" only where every process that answered says so."""
    checks: dict[str, str] = {}
    for answer in answers:
        for check, result in (answer.get("checks") or {}).items():
            checks[check] = "ok" if result == "ok" and checks.get(check, "ok") == "ok" else "error"
    return checks


def combined_status(answers: list[dict[str, Any]]) -> dict[str, Any]:
    """One service's entry from the `/status` of each of its processes.

    A process that answers counts as online in `replicas`, degraded or not.
    The figures are one answering process's (all read the same database),
    an online one's if there is one.
    """
    answering = [answer for answer in answers if answer.get("service_status") != "offline"]
    online = [answer for answer in answering if answer.get("service_status") == "online"]
    if not answering:
        status = "offline"
    elif len(online) == len(answers):
        status = "online"
    else:
        status = "degraded"
    entry = {**(online or answering or answers)[0], "service_status": status,
             "replicas": {"total": len(answers), "online": len(answering)}}
    if len(answers) > 1:
        if answering:
            entry["checks"] = _merged_checks(answering)
        entry["pids"] = [answer.get("pid") for answer in answers]
    return entry


async def _service_status(client: httpx.AsyncClient, name: str, base_urls: list[str]) -> dict[str, Any]:
    answers = await asyncio.gather(*(_status_of(client, name, url) for url in base_urls))
    return combined_status(list(answers))


class StatusBoard:
    """Every service's status as of the last round: one round every few seconds, however many are looking.

    Rounds start with the first request for it (nobody looking, nobody is
    asked: a platform starting up is not a string of failed calls), then
    follow the scraper's beat.
    """

    def __init__(self, client: httpx.AsyncClient, upstreams: dict[str, list[str]],
                 own_status: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        self.client = client
        self.upstreams = upstreams
        self.own_status = own_status
        self.entries: dict[str, dict[str, Any]] = {}
        self._first = asyncio.Lock()

    async def latest(self) -> dict[str, dict[str, Any]]:
        if not self.entries:
            async with self._first:  # the first askers share one round
                if not self.entries:
                    await self.gather()
        return self.entries

    async def gather_if_asked(self) -> None:
        if self.entries:
            await self.gather()

    async def gather(self) -> None:
        answers = await asyncio.gather(*(_service_status(self.client, name, urls) for name, urls in self.upstreams.items()))
        entries = dict(zip(self.upstreams, answers, strict=True))
        entries["dashboard"] = combined_status([await self.own_status()])
        # In the registry's order, which the page shows.
        self.entries = {name: entries[name] for name in SERVICE_NAMES if name in entries}


async def stats(request: Request) -> JSONResponse:
    """One entry per service: its status ("online", "degraded", "offline") and figures, as of the last round."""
    board: StatusBoard = request.app.state.board
    scraper: Scraper = request.app.state.scraper
    entries = await board.latest()
    forwarded = "x-forwarded-for" in request.headers  # through the gateway: a person's request
    now = time.time()
    return JSONResponse({name: {**_public(entry, forwarded), "signals": scraper.snapshot(name, now)}
                         for name, entry in entries.items()})


async def page(_request: Request) -> FileResponse:
    return FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})


def build(settings: DashboardSettings | None = None) -> Starlette:
    """The dashboard on Starlette alone: two routes and static files need nothing of FastAPI (5 MB a process)."""
    settings = settings or DashboardSettings()
    upstreams = _upstreams(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with http_client(settings.upstream_connect_timeout, settings.upstream_read_timeout) as client:
            # The dashboard reads its own figures from its registry (None): no request to count.
            scraper = Scraper(client, {**upstreams, "dashboard": None})
            app.state.scraper = scraper
            app.state.board = board = StatusBoard(client, upstreams, app.state.status_snapshot)
            task = asyncio.create_task(scraper.run(also=board.gather_if_asked), name="status-round")
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = create_app("dashboard", settings, app_class=Starlette, lifespan=lifespan)
    app.router.routes.extend([
        Route("/api/stats", stats, methods=["GET"]),
        Route("/", page, methods=["GET"]),
        Mount("/dashboard/static", StaticFiles(directory=WEB_DIR / "static"), name="dashboard-static"),
    ])
    return app
