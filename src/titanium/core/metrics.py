"""Prometheus metrics of the HTTP traffic every service takes (the golden signals).

Routes are labelled by their template ("/blog/api/posts/{post_id}"), never
by the raw path, so that the number of series stays bounded.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered", ["service", "method", "route", "status"]
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
PROBES = Counter(
    "http_probe_requests_total", "Probes and scrapes answered, kept out of the requests' figures", ["service", "route", "status"]
)
IN_FLIGHT = Gauge("http_requests_in_flight", "HTTP requests being answered", ["service"])
UPSTREAM_ERRORS = Counter(
    "upstream_errors_total", "Calls to another service that failed", ["service", "upstream", "reason"]
)
CACHE_LOOKUPS = Counter("cache_lookups_total", "Cache lookups by result", ["service", "result"])


class RequestMetrics:
    """One service's request figures, with the labelled series kept at hand.

    Looking a series up by its labels takes a lock and builds a key each
    time; a service answers on a few dozen (method, route, status) triples,
    so each is looked up once.
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self.in_flight = IN_FLIGHT.labels(service)
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            series = (REQUESTS.labels(self.service, method, route, str(status)), LATENCY.labels(self.service, method, route))
            self._series[key] = series
        series[0].inc()
        series[1].observe(seconds)

    def observe_probe(self, route: str, status: int) -> None:
        PROBES.labels(self.service, route, str(status)).inc()


async def metrics_endpoint(_request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
