"""What every service says about itself: `/health`, `/health/ready` and `/status`.

Readiness depends only on what the service cannot work without (its
database); a soft check that fails (its cache) makes it "degraded" on the
status page but never takes it out of a load balancer's rotation.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from titanium import __version__
from titanium.core.logging import get_logger
from titanium.core.tracing import untraced

Checks = Callable[[], Awaitable[dict[str, bool]]]
Figures = Callable[[], Awaitable[dict[str, Any]]]

log = get_logger(__name__)


async def no_checks() -> dict[str, bool]:
    return {}


async def no_figures() -> dict[str, Any]:
    return {}


class ServiceHealth:
    def __init__(self, service: str, checks: Checks, soft_checks: Checks, figures: Figures, *,
                 show_pid: bool = True) -> None:
        self.service = service
        self.show_pid = show_pid
        self.checks = checks
        self.soft_checks = soft_checks
        self.figures = figures
        self.started_at = time.time()

    async def health(self, _request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "service": self.service})

    async def ready(self, _request: Request) -> JSONResponse:
        with untraced():
            results = await self.checks()
        ready = all(results.values())
        body = {"status": "ready" if ready else "not ready", "service": self.service, "checks": _labels(results)}
        return JSONResponse(body, status_code=200 if ready else 503)

    async def status(self, _request: Request) -> JSONResponse:
        with untraced():
            return JSONResponse(await self.snapshot())

    async def snapshot(self) -> dict[str, Any]:
        results = {**await self.checks(), **await self.soft_checks()}
        try:
            extra = await self.figures()
        except Exception as exc:  # figures are best effort; the status still answers
            log.warning("figures unavailable", error=repr(exc))
            extra = {}
        return {
            "service": self.service,
            "service_status": "online" if all(results.values()) else "degraded",
            "version": __version__,
            **({"pid": os.getpid()} if self.show_pid else {}),
            "uptime_seconds": round(time.time() - self.started_at, 1),
            "checks": _labels(results),
            **extra,
        }


def _labels(results: dict[str, bool]) -> dict[str, str]:
    return {name: "ok" if passed else "error" for name, passed in results.items()}
