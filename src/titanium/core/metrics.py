"""Prometheus metrics: the golden signals of the HTTP traffic every service takes, and the figures behind them.

Routes are labelled by their template ("/blog/api/posts/{post_id}"), never
by the raw path, so that the number of series stays bounded.

Series a dashboard or an alert divides by, or compares with, exist from the
first scrape at 0 (`declare_service`): a 5xx series for every route, every
upstream error the service can meet, every business outcome. A query over
them then says 0 on a healthy platform, not "no data", which cannot be told
from a broken one.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from titanium.core.registry import BY_NAME

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
CACHE_AVAILABLE = Gauge(
    "cache_available", "1 while the shared cache is used, 0 while it is skipped after a failure", ["service"]
)
# Reads routed between the primary and its read replicas (core/read_replicas.py).
DB_READS = Counter("db_reads_total", "Database reads outside a write, by the server that answered them",
                   ["service", "target"])
DB_REPLICA_LAG = Gauge("db_replica_lag_seconds", "How far a read replica's replay is behind the primary, as last polled "
                       "(growing while it does not answer)", ["service", "replica"])
DB_REPLICA_IN_USE = Gauge("db_replica_in_use", "1 while reads may go to the read replica, 0 while it is left out "
                          "(down, lagging past the bound, or not a standby)", ["service", "replica"])

# The status every route's zero series carries: the queries select 5xx with status=~"5..".
ZERO_STATUS = "500"

# Why a call to another service failed: a few reasons, not exception names, so
# that each can be a series from the start. "unavailable": no connection;
# "timeout": no answer in time; "bad_answer": the connection broke or the
# answer was unreadable; "bad_status": it answered with an error status.
UPSTREAM_REASONS = ("unavailable", "timeout", "bad_answer", "bad_status")
# The gateway passes a service's error status on as it is (that is the
# service's answer, not a failed call).
FORWARDED_REASONS = UPSTREAM_REASONS[:3]


@dataclass(frozen=True)
class Outcome:
    """A business event, counted from the answer a route gives rather than in its handler.

    A refusal that never reaches the handler (a body that fails validation, a
    422) counts as well, and handlers carry no metric code. Each service
    declares its own (its `OUTCOMES`, given to core/app.py `create_app`).
    """

    method: str
    route: str
    status: int
    counter: Counter  # labelled by service and one more label, whose value is `label`
    label: str


def business_counter(name: str, documentation: str, label: str = "result") -> Counter:
    """A counter of a service's business events (`Outcome`s), by service and `label`."""
    return Counter(name, documentation, ["service", label])


class RequestMetrics:
    """One service's request figures, with the labelled series kept at hand.

    Looking a series up by its labels takes a lock and builds a key each
    time; a service answers on a few dozen (method, route, status) triples,
    so each is looked up once, with the business outcome it counts (if any).
    """

    def __init__(self, service: str, outcomes: Iterable[Outcome] = ()) -> None:
        self.service = service
        self.in_flight = IN_FLIGHT.labels(service)
        self._outcomes = {(outcome.method, outcome.route, outcome.status): outcome for outcome in outcomes}
        self._series: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float, trace_id: str | None = None) -> None:
        """Count one answer; `trace_id` (32 hex digits) becomes the latency's exemplar, the link to its trace."""
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = self._series_of(method, route, status)
        series[0].inc()
        if trace_id is None:
            series[1].observe(seconds)
        else:
            series[1].observe(seconds, {"trace_id": trace_id})
        if series[2] is not None:
            series[2].inc()

    def _series_of(self, method: str, route: str, status: int) -> tuple[Any, Any, Any]:
        outcome = self._outcomes.get((method, route, status))
        return (REQUESTS.labels(self.service, method, route, str(status)), LATENCY.labels(self.service, method, route),
                None if outcome is None else outcome.counter.labels(self.service, outcome.label))

    def observe_probe(self, route: str, status: int) -> None:
        PROBES.labels(self.service, route, str(status)).inc()


def declare_service(service: str, routes: Iterable[tuple[str, str]], outcomes: Iterable[Outcome] = ()) -> None:
    """Make this process's zero series, once at start-up: `routes` are its (method, route template) pairs.

    Also names the process's service for the figures collected at scrape
    time (its database pool): one service a process. The upstream errors it
    can meet are those of the calls the registry says it makes.
    """
    _this_process.service = service
    for method, route in routes:
        REQUESTS.labels(service, method, route, ZERO_STATUS)
    entry = BY_NAME.get(service)
    reasons = FORWARDED_REASONS if service == "gateway" else UPSTREAM_REASONS
    for upstream in entry.calls if entry is not None else ():
        for reason in reasons:
            UPSTREAM_ERRORS.labels(service, upstream, reason)
    for outcome in outcomes:
        outcome.counter.labels(service, outcome.label)


def failure_reason(exc: BaseException) -> str:
    """The reason (of UPSTREAM_REASONS) of a failed call made with httpx or aiohttp.

    Each library's classes are looked up only if the process loaded it: a
    process that never imported a client cannot have one of its errors.
    """
    aiohttp, httpx = sys.modules.get("aiohttp"), sys.modules.get("httpx")
    if ((aiohttp is not None and isinstance(exc, (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)))
            or (httpx is not None and isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)))):
        return "unavailable"
    if httpx is not None and isinstance(exc, httpx.HTTPStatusError):
        return "bad_status"
    if isinstance(exc, TimeoutError) or (httpx is not None and isinstance(exc, httpx.TimeoutException)):
        return "timeout"  # aiohttp's time-outs are TimeoutErrors
    return "bad_answer"


class _ThisProcess:
    service = ""


_this_process = _ThisProcess()


class DatabasePools(Collector):
    """`db_pool_connections{service,state}` and `db_pool_max_connections{service}`, read from the pools when scraped.

    Nothing is counted per request: SQLAlchemy's pool knows how many of its
    connections are checked out and how many wait idle.
    """

    def __init__(self) -> None:
        self._pools: list[tuple[Any, int]] = []

    def watch(self, pool: Any, max_connections: int) -> None:
        """Report `pool` (a SQLAlchemy QueuePool), which holds at most `max_connections`."""
        self._pools.append((pool, max_connections))

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if not self._pools:
            return
        service = _this_process.service
        connections = GaugeMetricFamily("db_pool_connections", "Database connections of the pool, by state",
                                        labels=["service", "state"])
        capacity = GaugeMetricFamily("db_pool_max_connections", "Connections the pool may hold at most",
                                     labels=["service"])
        connections.add_metric([service, "in_use"], sum(pool.checkedout() for pool, _ in self._pools))
        connections.add_metric([service, "idle"], sum(pool.checkedin() for pool, _ in self._pools))
        capacity.add_metric([service], sum(most for _, most in self._pools))
        yield connections
        yield capacity


DB_POOLS = DatabasePools()
REGISTRY.register(DB_POOLS)


async def metrics_endpoint(request: Request) -> Response:
    """The registry as the scraper asks: OpenMetrics (which carries the exemplars) when it accepts it, else Prometheus text."""
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(REGISTRY), media_type=content_type)
