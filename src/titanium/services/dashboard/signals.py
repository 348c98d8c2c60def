"""The golden signals of every service, from the services' own `/metrics`, with no Prometheus.

A background task scrapes each service every `SCRAPE_INTERVAL` seconds (the
dashboard itself from its own registry, in process) and keeps, per service,
one point per interval for the last `HISTORY_SECONDS`: request rate, 4xx and
5xx rates, P50/P95/P99 latency (from the histogram's bucket deltas,
interpolated within a bucket as Prometheus' `histogram_quantile` does),
requests in flight, CPU (% of one core) and resident memory.

The dashboard's own calls must not show up in what it shows: requests to
the probe and scrape routes (`/metrics`, `/health`, `/health/ready`,
`/status`) are left out of every rate and quantile, whether or not the
service counts them, and the scrape itself is taken out of the in-flight
gauge when the service counts it.

A service run as several processes (replicas) is scraped at each of them,
and its signals are theirs combined as a `sum by (service)` would: rates,
errors, CPU, memory and requests in flight summed, latency quantiles from
the sum of their histograms' bucket counts. Each process is its own series
for the deltas: a restarted one (its counters start again from zero) is
handled as Prometheus' `rate` does, the new process's counts being the
interval's delta. A process that fails to scrape is left out of the round
(and named in `replicas`); when every one fails, the round leaves a gap in
the series and the signals are marked stale, with the time of the last
good scrape.
"""

from __future__ import annotations

import asyncio
import gc
import math
import time
from array import array
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample as PromSample

from titanium.core.logging import get_logger
from titanium.core.paths import OPERATIONAL_PATHS
from titanium.core.tracing import untraced

log = get_logger(__name__)

# Would be DashboardSettings fields (`signals_scrape_interval` ...); kept here
# as module constants until core/settings.py grows them.
SCRAPE_INTERVAL = 5.0
HISTORY_SECONDS = 15 * 60
# The "current" values are taken over this window (as a `rate(...[30s])`
# would), so that one quiet interval does not blank them out.
CURRENT_WINDOW_SECONDS = 30.0
# A service whose last good scrape is older than this many intervals is stale
# even if no scrape has failed yet (the scraper itself stuck, say).
STALE_AFTER_INTERVALS = 2.5

# The dashboard's own calls to a service, and a load balancer's probes.
PROBE_ROUTES = OPERATIONAL_PATHS
QUANTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
FIELDS = ("t", "rps", "err4xx", "err5xx", "p50", "p95", "p99", "inflight", "cpu", "rss")
UNITS = {"t": "unix seconds", "rps": "requests/s", "err4xx": "requests/s", "err5xx": "requests/s",
         "p50": "ms", "p95": "ms", "p99": "ms", "inflight": "requests", "cpu": "% of one core", "rss": "bytes"}

_REQUESTS = "http_requests_total"
_BUCKETS = "http_request_duration_seconds_bucket"
_IN_FLIGHT = "http_requests_in_flight"
_CPU = "process_cpu_seconds_total"
_RSS = "process_resident_memory_bytes"
_START = "process_start_time_seconds"
# Only these lines of an exposition are parsed: a service's /metrics is mostly
# other series (_created, _sum, _count, gc...), and the parser is pure Python.
_WANTED_LINES = (_REQUESTS + "{", _BUCKETS + "{", _IN_FLIGHT, _CPU + " ", _RSS + " ", _START + " ")
_WANTED_NAMES = frozenset({_REQUESTS, _BUCKETS, _IN_FLIGHT, _CPU, _RSS, _START})


@dataclass(frozen=True, slots=True)
class Sample:
    """What one scrape of one service says, summed over its routes (probe routes left out)."""

    t: float  # wall clock, for the page
    mono: float  # monotonic, for the intervals
    requests: float = 0.0
    client_errors: float = 0.0
    server_errors: float = 0.0
    bounds: tuple[float, ...] = ()  # the histogram's upper bounds, ascending, +Inf last
    buckets: tuple[float, ...] = ()  # cumulative counts, aligned with `bounds`
    in_flight: float | None = None
    cpu_seconds: float | None = None
    rss_bytes: float | None = None
    start_time: float | None = None


def sample_from(samples: Iterable[PromSample], t: float, mono: float, *, scraped_over_http: bool) -> Sample:
    """Sum one exposition's series into a `Sample`."""
    requests = client_errors = server_errors = 0.0
    buckets: dict[float, float] = {}
    in_flight = cpu = rss = start = None
    counts_probes = False
    for sample in samples:
        name = sample.name
        if name == _REQUESTS:
            route = sample.labels.get("route")
            if route in PROBE_ROUTES:
                counts_probes = True
                continue
            requests += sample.value
            status = sample.labels.get("status", "")
            if status.startswith("4"):
                client_errors += sample.value
            elif status.startswith("5"):
                server_errors += sample.value
        elif name == _BUCKETS:
            if sample.labels.get("route") in PROBE_ROUTES:
                continue
            bound = float(sample.labels["le"])
            buckets[bound] = buckets.get(bound, 0.0) + sample.value
        elif name == _IN_FLIGHT:
            in_flight = (in_flight or 0.0) + sample.value
        elif name == _CPU:
            cpu = sample.value
        elif name == _RSS:
            rss = sample.value
        elif name == _START:
            start = sample.value
    if in_flight is not None and scraped_over_http and counts_probes:
        # This very scrape is in flight while the service writes its answer.
        in_flight = max(0.0, in_flight - 1)
    bounds = tuple(sorted(buckets))
    return Sample(t, mono, requests, client_errors, server_errors, bounds, tuple(buckets[b] for b in bounds),
                  in_flight, cpu, rss, start)


def parse_exposition(text: str, t: float, mono: float) -> Sample:
    wanted = "\n".join(line for line in text.splitlines() if line.startswith(_WANTED_LINES))
    samples = (s for family in text_string_to_metric_families(wanted) for s in family.samples)
    return sample_from(samples, t, mono, scraped_over_http=True)


def own_sample(t: float, mono: float) -> Sample:
    """This process's figures, from its registry: no HTTP request, so nothing to take out."""
    samples = (s for family in REGISTRY.collect() for s in family.samples if s.name in _WANTED_NAMES)
    return sample_from(samples, t, mono, scraped_over_http=False)


def histogram_quantile(q: float, bounds: tuple[float, ...], cumulative: tuple[float, ...]) -> float | None:
    """The q-quantile of cumulative bucket counts, interpolated linearly within its bucket (as Prometheus does).

    None when there is no observation. A quantile that falls in the +Inf
    bucket is the highest finite bound, as Prometheus answers.
    """
    if not bounds or cumulative[-1] <= 0:
        return None
    rank = q * cumulative[-1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in zip(bounds, cumulative, strict=True):
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            in_bucket = count - lower_count
            if in_bucket <= 0:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / in_bucket
        lower_bound, lower_count = bound, count
    return lower_bound  # counts not monotonic (torn scrape): the highest bound seen


@dataclass(frozen=True, slots=True)
class Interval:
    """What happened between two consecutive good scrapes: the counters' deltas, and the values drawn."""

    t: float
    seconds: float
    requests: float
    client_errors: float
    server_errors: float
    bounds: tuple[float, ...]
    buckets: tuple[float, ...]
    cpu_seconds: float | None
    in_flight: float | None
    rss_bytes: float | None
    row: tuple[float | None, ...]  # FIELDS, rounded, as drawn on the page


def _restarted(before: Sample, after: Sample) -> bool:
    if before.start_time is not None and after.start_time is not None and after.start_time != before.start_time:
        return True
    if after.bounds != before.bounds and before.bounds:
        return True
    pairs = [(before.requests, after.requests), (before.client_errors, after.client_errors),
             (before.server_errors, after.server_errors), *zip(before.buckets, after.buckets, strict=False)]
    if before.cpu_seconds is not None and after.cpu_seconds is not None:
        pairs.append((before.cpu_seconds, after.cpu_seconds))
    return any(now < then for then, now in pairs)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _values(seconds: float, requests: float, client_errors: float, server_errors: float,
            bounds: tuple[float, ...], buckets: tuple[float, ...], cpu_seconds: float | None) -> dict[str, float | None]:
    values: dict[str, float | None] = {
        "rps": _round(requests / seconds, 3),
        "err4xx": _round(client_errors / seconds, 3),
        "err5xx": _round(server_errors / seconds, 3),
    }
    for name, q in QUANTILES:
        quantile = histogram_quantile(q, bounds, buckets)
        values[name] = _round(None if quantile is None else quantile * 1000, 2)
    values["cpu"] = _round(None if cpu_seconds is None else 100 * cpu_seconds / seconds, 2)
    return values


def interval_between(before: Sample, after: Sample) -> Interval | None:
    """The deltas from `before` to `after`; after a restart, the new process's counts (as Prometheus' rate)."""
    seconds = after.mono - before.mono
    if seconds <= 0:
        return None
    if _restarted(before, after):
        base = Sample(before.t, before.mono, bounds=after.bounds, buckets=tuple(0.0 for _ in after.buckets),
                      cpu_seconds=0.0 if after.cpu_seconds is not None else None)
    else:
        base = before
    requests = after.requests - base.requests
    client_errors = after.client_errors - base.client_errors
    server_errors = after.server_errors - base.server_errors
    if base.bounds == after.bounds:
        buckets = tuple(a - b for a, b in zip(after.buckets, base.buckets, strict=True))
    else:  # a histogram appears with the first request that is not a probe
        buckets = after.buckets
    cpu = None
    if after.cpu_seconds is not None and base.cpu_seconds is not None:
        cpu = after.cpu_seconds - base.cpu_seconds
    return _interval(after.t, seconds, requests, client_errors, server_errors, after.bounds, buckets, cpu,
                     after.in_flight, after.rss_bytes)


def _interval(t: float, seconds: float, requests: float, client_errors: float, server_errors: float,
              bounds: tuple[float, ...], buckets: tuple[float, ...], cpu_seconds: float | None,
              in_flight: float | None, rss_bytes: float | None) -> Interval:
    values = _values(seconds, requests, client_errors, server_errors, bounds, buckets, cpu_seconds)
    values.update(t=round(t, 3), inflight=None if in_flight is None else round(in_flight),
                  rss=None if rss_bytes is None else int(rss_bytes))
    row = tuple(values[name] for name in FIELDS)
    return Interval(t, seconds, requests, client_errors, server_errors, bounds, buckets, cpu_seconds,
                    in_flight, rss_bytes, row)


def _total(values: Iterable[float | None]) -> float | None:
    """The sum of the values known; None when none is."""
    known = [value for value in values if value is not None]
    return sum(known) if known else None


def combined(steps: Sequence[Interval]) -> Interval:
    """One interval of a service from its processes' intervals of the same round.

    Counts are summed at each process's own rate: a process back after
    failed scrapes brings its average over the gap (its interval is longer),
    scaled to the round's length. Latency comes from the summed bucket
    counts (the processes share the same buckets: the same code); a process
    whose histogram has other bounds (none yet) adds no latency.
    """
    if len(steps) == 1:
        return steps[0]
    seconds = min(step.seconds for step in steps)
    scale = [seconds / step.seconds for step in steps]
    bounds = next((step.bounds for step in steps if step.bounds), ())
    buckets = [0.0] * len(bounds)
    for step in steps:
        if step.bounds == bounds:
            buckets = [total + count for total, count in zip(buckets, step.buckets, strict=True)]
    return _interval(
        max(step.t for step in steps), seconds,
        sum(step.requests * k for step, k in zip(steps, scale, strict=True)),
        sum(step.client_errors * k for step, k in zip(steps, scale, strict=True)),
        sum(step.server_errors * k for step, k in zip(steps, scale, strict=True)),
        bounds, tuple(buckets),
        _total(None if step.cpu_seconds is None else step.cpu_seconds * k for step, k in zip(steps, scale, strict=True)),
        _total(step.in_flight for step in steps), _total(step.rss_bytes for step in steps))


def _gap(t: float) -> tuple[float | None, ...]:
    return (round(t, 3),) + (None,) * (len(FIELDS) - 1)


class Rows:
    """A ring of rows (one per interval), kept as one array of doubles per field: no object per value.

    Holding 15 minutes of Python tuples and floats would pin the memory of
    every scrape's short-lived objects around them (18 MB of a process's
    resident memory, measured); unboxed columns pin nothing. None is NaN.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.columns = [array("d", [math.nan]) * capacity for _ in FIELDS]
        self.first = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def _index(self, position: int) -> int:
        return (self.first + position) % self.capacity

    def append(self, row: tuple[float | None, ...]) -> None:
        if self.size == self.capacity:
            self.first = self._index(1)
        else:
            self.size += 1
        at = self._index(self.size - 1)
        for column, value in zip(self.columns, row, strict=True):
            column[at] = math.nan if value is None else value

    def last(self) -> tuple[float | None, ...]:
        at = self._index(self.size - 1)
        return tuple(_none_for_nan(column[at]) for column in self.columns)

    def drop_before(self, t: float) -> None:
        times = self.columns[0]
        while self.size and times[self.first] < t:
            self.first = self._index(1)
            self.size -= 1

    def column(self, index: int) -> list[float | None]:
        values = self.columns[index]
        return [_none_for_nan(values[self._index(i)]) for i in range(self.size)]


def _none_for_nan(value: float) -> float | None:
    return None if math.isnan(value) else value


_WHOLE_NUMBERS = frozenset({"inflight", "rss"})


def _column(name: str, values: list[float | None]) -> list[float | None] | list[int | None]:
    return [None if v is None else int(v) for v in values] if name in _WHOLE_NUMBERS else values


@dataclass
class ServiceSignals:
    """One service's last 15 minutes, one row per scrape interval (a row of None where every scrape failed)."""

    name: str
    interval: float = SCRAPE_INTERVAL
    history_seconds: float = HISTORY_SECONDS
    replicas: int = 1  # the service's processes, each scraped on its own
    last_scrape: float | None = None  # wall clock of the last round where some process answered
    last_error: str | None = None  # why the last round failed at every process; None once one answers
    # Per process: its last good sample (the baseline of its next delta), and why its last scrape failed.
    previous: list[Sample | None] = field(init=False)
    replica_errors: list[str | None] = field(init=False)
    rows: Rows = field(init=False)
    # The intervals of the current window only (their bucket deltas are tuples).
    intervals: deque[Interval] = field(init=False)
    _snapshot: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.previous = [None] * self.replicas
        self.replica_errors = [None] * self.replicas
        # Bounded by count as well as by time (a clock set back must not let them grow).
        self.rows = Rows(int(self.history_seconds / self.interval) + 2)
        self.intervals = deque(maxlen=int(CURRENT_WINDOW_SECONDS / self.interval) + 2)

    def record(self, sample: Sample) -> None:
        """A good scrape of a service of one process."""
        self.record_round(sample.t, [sample])

    def record_failure(self, t: float, reason: str) -> None:
        """A failed scrape of a service of one process."""
        self.record_round(t, [reason] * self.replicas)

    def record_round(self, t: float, results: Sequence[Sample | str]) -> None:
        """One round: each process's sample, or why its scrape failed (in the order of `replicas`).

        The processes that answered make the round's row. When none did, the
        round is a gap in the series, and the service is stale until one
        answers. A process's last good sample stays its baseline: its first
        good scrape after failures gives its averages over them (a restart in
        between is seen by its process start time, and counted from zero).
        """
        steps = []
        for replica, result in enumerate(results):
            if isinstance(result, str):
                self._replica_failed(replica, result)
                continue
            self._replica_answered(replica)
            before = self.previous[replica]
            if before is not None and (step := interval_between(before, result)) is not None:
                steps.append(step)
            self.previous[replica] = result
        if any(error is None for error in self.replica_errors):
            if steps:
                step = combined(steps)
                self.rows.append(step.row)
                self.intervals.append(step)
            self.last_scrape = t
            self.last_error = None
        else:
            if not self.rows or self.rows.last()[1:] != _gap(t)[1:]:
                self.rows.append(_gap(t))
            self.last_error = next(error for error in self.replica_errors if error is not None)
        self._forget_before(t)

    def _replica_failed(self, replica: int, reason: str) -> None:
        if self.replica_errors[replica] is None and self.previous[replica] is not None:  # not while it starts
            log.warning("metrics scrape failed", upstream=self.name, replica=replica, reason=reason)
        self.replica_errors[replica] = reason

    def _replica_answered(self, replica: int) -> None:
        if self.replica_errors[replica] is not None and self.previous[replica] is not None:
            log.info("metrics scrape succeeds again", upstream=self.name, replica=replica)
        self.replica_errors[replica] = None

    def _forget_before(self, now: float) -> None:
        self.rows.drop_before(now - self.history_seconds)
        while self.intervals and self.intervals[0].t < now - self.history_seconds:
            self.intervals.popleft()
        self._snapshot = None

    def current(self, window: float = CURRENT_WINDOW_SECONDS) -> dict[str, float | None]:
        """The signals over the last `window` seconds of good intervals (the gauges: their last value).

        While the service is stale these are its last known values; the page says so.
        """
        empty: dict[str, float | None] = {name: None for name in FIELDS[1:]}
        if not self.intervals:
            return empty
        latest = self.intervals[-1]
        chosen = [step for step in self.intervals if step.t > latest.t - window]
        seconds = sum(step.seconds for step in chosen)
        bounds = latest.bounds
        buckets = [0.0] * len(bounds)
        for step in chosen:
            if step.bounds == bounds:
                buckets = [a + b for a, b in zip(buckets, step.buckets, strict=True)]
        cpu_steps = [step.cpu_seconds for step in chosen if step.cpu_seconds is not None]
        values = _values(seconds, sum(s.requests for s in chosen), sum(s.client_errors for s in chosen),
                         sum(s.server_errors for s in chosen), bounds, tuple(buckets),
                         sum(cpu_steps) if cpu_steps else None)
        values["inflight"] = latest.in_flight
        values["rss"] = None if latest.rss_bytes is None else int(latest.rss_bytes)
        return values

    def stale(self, now: float) -> bool:
        if self.last_error is not None or self.last_scrape is None:
            return True
        return now - self.last_scrape > STALE_AFTER_INTERVALS * self.interval

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        """What /api/stats gives: current values, the series (one list per field), and whether it is stale."""
        now = time.time() if now is None else now
        if self._snapshot is None:
            self._snapshot = {
                "interval_seconds": self.interval,
                "window_seconds": CURRENT_WINDOW_SECONDS,
                "units": UNITS,
                "current": self.current(),
                "series": {name: _column(name, self.rows.column(i)) for i, name in enumerate(FIELDS)},
            }
        failed = [error for error in self.replica_errors if error is not None]
        return {
            **self._snapshot,
            "stale": self.stale(now),
            "last_scrape": None if self.last_scrape is None else round(self.last_scrape, 3),
            "last_error": self.last_error,
            # How many processes the figures are from, and why the others' last scrape failed.
            "replicas": {"total": self.replicas, "scraped": self.replicas - len(failed), "errors": failed},
            "generated_at": round(now, 3),
        }


class Scraper:
    """Scrapes every process of every service every `interval` seconds; one `ServiceSignals` per service."""

    def __init__(self, client: httpx.AsyncClient, urls: Mapping[str, Sequence[str] | None],
                 interval: float = SCRAPE_INTERVAL, history_seconds: float = HISTORY_SECONDS) -> None:
        """`urls`: service name -> the base URL of each of its processes; None for this process (its own registry)."""
        self.client = client
        self.urls = {name: None if bases is None else [base.rstrip("/") + "/metrics" for base in bases]
                     for name, bases in urls.items()}
        self.interval = interval
        self.services = {name: ServiceSignals(name, interval, history_seconds, replicas=len(bases or [None]))
                         for name, bases in urls.items()}

    async def scrape_once(self) -> None:
        await asyncio.gather(*(self._scrape(name, urls) for name, urls in self.urls.items()))

    async def _scrape(self, name: str, urls: list[str] | None) -> None:
        t, mono = time.time(), time.monotonic()
        if urls is None:
            results: list[Sample | str] = [own_sample(t, mono)]
        else:
            results = list(await asyncio.gather(*(self._sample(url, t, mono) for url in urls)))
        self.services[name].record_round(t, results)

    async def _sample(self, url: str, t: float, mono: float) -> Sample | str:
        """One process's sample, or why it could not be had."""
        try:
            return parse_exposition(await self._get(url), t, mono)
        except (httpx.HTTPError, ValueError) as exc:
            return type(exc).__name__

    async def _get(self, url: str) -> str:
        # A scrape is no one's request: it starts no trace (each would be an orphan client span).
        with untraced():
            try:
                answer = await self.client.get(url)
            except (httpx.RemoteProtocolError, httpx.ReadError):
                # A pooled connection that the service closed as idle just as it was
                # reused (its keep-alive and ours are both about one interval): once more.
                answer = await self.client.get(url)
        answer.raise_for_status()
        return answer.text

    async def run(self, also: Callable[[], Awaitable[None]] | None = None) -> None:
        """Scrape for ever, on a fixed beat (a slow round does not shift the next ones); `also` in each round."""
        next_round = time.monotonic()
        while True:
            try:
                await asyncio.gather(self.scrape_once(), *([also()] if also else []))
            except Exception as exc:  # never let one bad answer end the task
                log.error("metrics scrape round failed", error=repr(exc))
            # Each HTTP call leaves ~160 objects in reference cycles (httpx's
            # requests, responses and streams); the services collect only every
            # 50,000 allocations (core/runtime.py), so a round's garbage would
            # pile up to some 17 MB of this idle process before it went. The
            # young generations hold a few thousand objects: well under 1 ms.
            gc.collect(1)
            next_round += self.interval
            delay = next_round - time.monotonic()
            if delay < 0:  # fell behind (a suspended laptop): start again from now
                next_round, delay = time.monotonic(), 0.0
            await asyncio.sleep(delay)

    def snapshot(self, name: str, now: float | None = None) -> dict[str, Any] | None:
        signals = self.services.get(name)
        return None if signals is None else signals.snapshot(now)
