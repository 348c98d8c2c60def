"""Prometheus metrics of the HTTP traffic every service takes (the golden signals).

Routes are labelled by their template ("/blog/api/posts/{post_id}"), never
by the raw path, so that the number of series stays bounded.
"""

from __future__ import annotations

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
IN_FLIGHT = Gauge("http_requests_in_flight", "HTTP requests being answered", ["service"])
UPSTREAM_ERRORS = Counter(
    "upstream_errors_total", "Calls to another service that failed", ["service", "upstream", "reason"]
)
CACHE_LOOKUPS = Counter("cache_lookups_total", "Cache lookups by result", ["service", "result"])


def observe_request(service: str, method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(service, method, route, str(status)).inc()
    LATENCY.labels(service, method, route).observe(seconds)


async def metrics_endpoint(_request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
