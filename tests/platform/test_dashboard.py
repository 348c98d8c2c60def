"""The dashboard's golden signals: how they are computed from /metrics, and what /stats gives of them."""

from __future__ import annotations

import math

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from tests.platform.harness import Client, Platform, wait_until
from titanium.core.registry import SERVICE_NAMES
from titanium.services.dashboard.signals import (
    FIELDS,
    STALE_AFTER_INTERVALS,
    Sample,
    ServiceSignals,
    histogram_quantile,
    interval_between,
    parse_exposition,
)

INF = math.inf
BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, INF)


def test_quantiles_are_interpolated_within_their_bucket_as_prometheus_does():
    bounds = (0.1, 0.5, 1.0, INF)
    counts = (10.0, 20.0, 20.0, 20.0)  # cumulative: 10 under 100 ms, 10 between 100 and 500 ms
    assert histogram_quantile(0.5, bounds, counts) == 0.1
    assert math.isclose(histogram_quantile(0.25, bounds, counts), 0.05)
    assert math.isclose(histogram_quantile(0.95, bounds, counts), 0.1 + 0.4 * 9 / 10)
    assert math.isclose(histogram_quantile(0.99, bounds, counts), 0.1 + 0.4 * 9.8 / 10)


def test_a_quantile_in_the_infinite_bucket_is_the_highest_finite_bound_and_none_without_observations():
    assert histogram_quantile(0.99, (0.1, 1.0, INF), (0.0, 1.0, 100.0)) == 1.0
    assert histogram_quantile(0.5, (0.1, 1.0, INF), (0.0, 0.0, 0.0)) is None
    assert histogram_quantile(0.5, (), ()) is None


def _exposition(*, count_probes: bool, in_flight: float, cpu: float = 1.5, start: float = 1000.0) -> str:
    """A service's /metrics as prometheus_client writes it (with or without its probes counted)."""
    registry = CollectorRegistry()
    requests = Counter("http_requests", "", ["service", "method", "route", "status"], registry=registry)
    latency = Histogram("http_request_duration_seconds", "", ["service", "method", "route"],
                        buckets=BOUNDS[:-1], registry=registry)
    Gauge("http_requests_in_flight", "", ["service"], registry=registry).labels("blog").set(in_flight)
    Counter("process_cpu_seconds", "", registry=registry).inc(cpu)
    Gauge("process_resident_memory_bytes", "", registry=registry).set(50e6)
    Gauge("process_start_time_seconds", "", registry=registry).set(start)
    for route, status, seconds, times in (("/blog/api/posts", "200", 0.003, 8), ("/blog/api/posts/{post_id}", "404", 0.02, 1),
                                          ("/blog/api/posts", "500", 0.2, 1)):
        for _ in range(times):
            requests.labels("blog", "GET", route, status).inc()
            latency.labels("blog", "GET", route).observe(seconds)
    if count_probes:
        for route in ("/metrics", "/health", "/health/ready", "/status"):
            requests.labels("blog", "GET", route, "200").inc(1000)
            latency.labels("blog", "GET", route).observe(7.0)
    return generate_latest(registry).decode()


def test_probes_and_scrapes_are_left_out_whether_or_not_the_service_counts_them():
    counted = parse_exposition(_exposition(count_probes=True, in_flight=3), 100.0, 10.0)
    uncounted = parse_exposition(_exposition(count_probes=False, in_flight=2), 100.0, 10.0)
    for sample in (counted, uncounted):
        assert (sample.requests, sample.client_errors, sample.server_errors) == (10, 1, 1)
        assert sample.bounds == BOUNDS and sample.buckets[-1] == 10  # no probe's 7 s in the latency
        assert sample.cpu_seconds == 1.5 and sample.rss_bytes == 50e6 and sample.start_time == 1000.0
        # A service that counts its /metrics has this very scrape in flight: taken out.
        assert sample.in_flight == 2


def _sample(mono: float, requests: float, *, start: float = 1000.0, cpu: float = 1.0, fast: float | None = None,
            errors: tuple[float, float] = (0.0, 0.0), in_flight: float = 0.0) -> Sample:
    fast = requests if fast is None else fast  # how many answered under 5 ms; the rest in 50..100 ms
    buckets = tuple(fast if bound < 0.1 else requests for bound in BOUNDS)
    return Sample(t=1_700_000_000 + mono, mono=mono, requests=requests, client_errors=errors[0],
                  server_errors=errors[1], bounds=BOUNDS, buckets=buckets, in_flight=in_flight, cpu_seconds=cpu,
                  rss_bytes=40e6, start_time=start)


def _row(step) -> dict:
    return dict(zip(FIELDS, step.row, strict=True))


def test_rates_latency_and_cpu_come_from_the_deltas_between_two_scrapes():
    row = _row(interval_between(_sample(0, 100, cpu=2.0), _sample(5, 150, cpu=2.5, fast=100, errors=(5, 1),
                                                                    in_flight=3)))
    assert row["rps"] == 10 and row["err4xx"] == 1 and row["err5xx"] == 0.2
    # The 50 new requests all took 50..100 ms (the earlier 100 were under 5 ms, and are not in this interval).
    assert (row["p50"], row["p95"], row["p99"]) == (75.0, 97.5, 99.5)
    assert row["cpu"] == 10.0  # half a second of CPU in 5 seconds: 10 % of one core
    assert row["inflight"] == 3 and row["rss"] == 40_000_000


def test_a_restarted_service_counts_from_zero_instead_of_giving_negative_rates():
    before = _sample(0, 5000, cpu=30.0)
    # A new process (its start time changed) that has answered 20 requests: fewer than before...
    after_restart = _sample(5, 20, start=2000.0, cpu=1.0)
    row = _row(interval_between(before, after_restart))
    assert row["rps"] == 4 and row["cpu"] == 20.0 and row["p50"] is not None
    # ... or more than before: only the start time tells.
    row = _row(interval_between(_sample(0, 10), _sample(5, 60, start=2000.0)))
    assert row["rps"] == 12
    # Counters that went down (no start time known) are a restart too.
    row = _row(interval_between(Sample(0.0, 0.0, requests=100.0), Sample(5.0, 5.0, requests=10.0)))
    assert row["rps"] == 2


def test_failed_scrapes_leave_a_gap_mark_the_service_stale_and_keep_the_last_good_time():
    signals = ServiceSignals("blog", interval=5.0)
    for i in range(4):
        signals.record(_sample(5 * i, 10 * i))
    good = signals.snapshot(now=1_700_000_000 + 16)
    assert not good["stale"] and good["current"]["rps"] == 2 and len(good["series"]["t"]) == 3
    assert good["last_scrape"] == 1_700_000_015

    signals.record_failure(1_700_000_020, "ConnectError")
    signals.record_failure(1_700_000_025, "ConnectError")
    stale = signals.snapshot(now=1_700_000_026)
    assert stale["stale"] and stale["last_error"] == "ConnectError"
    assert stale["last_scrape"] == 1_700_000_015, "the time of the last good scrape"
    assert stale["series"]["rps"][-1] is None, "a gap in the chart"
    assert stale["current"]["rps"] == 2, "the last known values, shown as stale"

    signals.record(_sample(30, 60))  # back: the interval spans the gap, from the last good sample
    back = signals.snapshot(now=1_700_000_031)
    assert not back["stale"] and back["last_error"] is None and back["series"]["rps"][-1] == 2


def test_signals_go_stale_when_no_scrape_has_come_for_a_while():
    signals = ServiceSignals("blog", interval=5.0)
    signals.record(_sample(0, 0))
    assert not signals.stale(1_700_000_000 + 5)
    assert signals.stale(1_700_000_000 + 5 * STALE_AFTER_INTERVALS + 1)
    assert ServiceSignals("never-scraped").stale(0.0)


def test_the_history_keeps_fifteen_minutes():
    signals = ServiceSignals("blog", interval=5.0, history_seconds=900)
    for i in range(400):  # 2000 s of scrapes
        signals.record(_sample(5 * i, i))
    times = signals.snapshot()["series"]["t"]
    assert times[-1] - times[0] <= 900 and len(times) >= 900 / 5 - 1


def test_stats_carries_every_services_signals_and_no_internal_address_or_process_id(platform: Platform,
                                                                                   anonymous: Client):
    def moving() -> dict | None:
        # Traffic all along: what came before the dashboard's first scrape of a service is its baseline.
        for _ in range(5):
            assert anonymous.http.get("/blog/api/categories").status_code == 200
        stats = httpx.get(f"{platform.url}/stats", timeout=10).json()
        rates = [stats[name]["signals"]["current"]["rps"] for name in ("blog", "gateway")]
        return stats if all(rate and rate > 0 for rate in rates) else None

    stats = wait_until(moving, timeout=60, interval=1, what="the blog's and gateway's request rates above zero")
    assert set(stats) == set(SERVICE_NAMES)
    for entry in stats.values():
        signals = entry["signals"]
        assert set(signals["series"]) == set(FIELDS) and set(signals["current"]) == set(FIELDS) - {"t"}
        assert {"stale", "last_scrape", "last_error", "interval_seconds"} <= set(signals)
        assert "pid" not in entry, "no process id on the public /stats"
    assert "upstreams" not in stats["gateway"], "no internal address on the public /stats"
    assert stats["blog"]["signals"]["current"]["p50"] > 0
    # The platform's own tools ask the dashboard directly, and still get the process ids of the services
    # behind the gateway; the gateway, which the world reaches, says its own to nobody.
    # A round on a busy machine can find a process slow to answer (no pid from it then): the next one has it.
    def with_every_pid() -> dict | None:
        now = platform.stats()
        return now if all(isinstance(entry.get("pid"), int) for name, entry in now.items() if name != "gateway") else None

    direct = wait_until(with_every_pid, what="every process id behind the gateway in a round")
    assert "pid" not in direct["gateway"] and "pid" not in httpx.get(f"{platform.url}/status", timeout=10).json()
