"""The status page of a service run as two processes: a dashboard told of two real blog processes
(TITANIUM_BLOG_URL listing both, as `titanium up --replicas blog=2` does) combines them, and says
"degraded" when one of them dies while still showing the other's figures and signals."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

from tests.platform.harness import ServiceProcess, free_port_block, wait_until
from titanium.services.dashboard.signals import FIELDS, Sample, ServiceSignals, combined, interval_between

BOUNDS = (0.005, 0.05, 0.1, float("inf"))


def _sample(seconds: float, requests: float, *, slow: float = 0.0, start: float = 1000.0) -> Sample:
    """A process's counts at `seconds`: `requests` answered, `slow` of them in 50..100 ms, the rest under 5 ms."""
    fast = requests - slow
    return Sample(t=1_700_000_000 + seconds, mono=seconds, requests=requests, bounds=BOUNDS,
                  buckets=(fast, fast, requests, requests), cpu_seconds=seconds / 10, rss_bytes=50e6,
                  in_flight=1.0, start_time=start)


def _row(step) -> dict:
    return dict(zip(FIELDS, step.row, strict=True))


def test_processes_are_summed_and_their_latency_taken_from_the_merged_buckets():
    fast = interval_between(_sample(0, 0), _sample(5, 100))
    slow = interval_between(_sample(0, 0), _sample(5, 300, slow=300))
    row = _row(combined([fast, slow]))
    assert row["rps"] == 80 and row["inflight"] == 2 and row["rss"] == 100_000_000 and row["cpu"] == 20.0
    # 400 requests: the 200th is the 100th of the 300 slow ones (not an average of each process's median).
    assert row["p50"] == round(1000 * (0.05 + 0.05 * 100 / 300), 2)
    # A process back after a failed scrape brings its average over its longer interval.
    back = interval_between(_sample(0, 0), _sample(10, 100))
    assert _row(combined([fast, back]))["rps"] == 30


def test_a_process_that_fails_to_scrape_leaves_the_others_figures_and_restarts_count_per_process():
    signals = ServiceSignals("blog", interval=5.0, replicas=2)
    signals.record_round(1_700_000_000, [_sample(0, 0), _sample(0, 1000)])
    signals.record_round(1_700_000_005, [_sample(5, 50), "ConnectError"])
    partial = signals.snapshot(now=1_700_000_006)
    assert not partial["stale"] and partial["series"]["rps"][-1] == 10
    assert partial["replicas"] == {"total": 2, "scraped": 1, "errors": ["ConnectError"]}
    # The second process restarted meanwhile (counters from zero): its 20 new requests, over its 10 s.
    signals.record_round(1_700_000_010, [_sample(10, 100), _sample(10, 20, start=2000.0)])
    assert signals.snapshot(now=1_700_000_011)["series"]["rps"][-1] == 10 + 2
    signals.record_round(1_700_000_015, ["ConnectError", "ReadTimeout"])
    gone = signals.snapshot(now=1_700_000_016)
    assert gone["stale"] and gone["last_error"] == "ConnectError" and gone["series"]["rps"][-1] is None


def _nowhere() -> str:
    return f"http://127.0.0.1:{free_port_block(1)}"


@pytest.fixture(scope="module")
def two_blogs_and_a_dashboard(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("replicas")
    env = {**os.environ, "TITANIUM_DATA_DIR": str(data_dir)}
    migrated = subprocess.run([sys.executable, "-m", "titanium", "migrate", "blog"], env=env,
                              capture_output=True, text=True, check=False)
    assert migrated.returncode == 0, migrated.stderr
    blogs = [ServiceProcess("blog", env, data_dir / f"blog-{i}.log") for i in range(2)]
    # The other services are not running: they are shown offline, and do not matter here.
    dashboard_env = {**env, "TITANIUM_BLOG_URL": ",".join(blog.url for blog in blogs),
                     "TITANIUM_GATEWAY_URL": _nowhere(), "TITANIUM_USERS_URL": _nowhere(),
                     "TITANIUM_AUTH_URL": _nowhere()}
    dashboard = ServiceProcess("dashboard", dashboard_env, data_dir / "dashboard.log")
    yield blogs, dashboard
    for process in (*blogs, dashboard):
        process.kill()


def _blog_entry(dashboard: ServiceProcess, *, forwarded: bool = False) -> dict:
    headers = {"X-Forwarded-For": "203.0.113.7"} if forwarded else {}
    return httpx.get(f"{dashboard.url}/api/stats", headers=headers, timeout=10).json()["blog"]


def _requests_counted(signals: dict, since: float) -> float:
    """How many requests the series' rows after `since` account for (each row's rate over one scrape interval)."""
    series = signals["series"]
    return sum(rate * signals["interval_seconds"] for t, rate in zip(series["t"], series["rps"], strict=True)
               if t > since and rate is not None)


def _read_posts(process: ServiceProcess, times: int) -> None:
    for _ in range(times):
        assert httpx.get(f"{process.url}/blog/api/posts").status_code == 200


def test_both_processes_online_and_their_requests_summed(two_blogs_and_a_dashboard):
    blogs, dashboard = two_blogs_and_a_dashboard
    # Once each process has been scraped, what follows is counted from there.
    first = wait_until(lambda: (entry := _blog_entry(dashboard))["signals"]["replicas"]["scraped"] == 2
                       and entry["signals"]["last_scrape"] and entry, timeout=30, what="both blog processes scraped")
    since = first["signals"]["last_scrape"]
    entry = _blog_entry(dashboard)
    assert entry["service_status"] == "online" and entry["replicas"] == {"total": 2, "online": 2}
    assert entry["post_count"] == 0 and entry["checks"]["database"] == "ok"
    assert sorted(entry["pids"]) == sorted(blog.process.pid for blog in blogs), "asked directly: each process's id"

    _read_posts(blogs[0], 30)
    _read_posts(blogs[1], 50)
    counted = wait_until(lambda: (n := _requests_counted(_blog_entry(dashboard)["signals"], since)) >= 80 * 0.95 and n,
                         timeout=45, interval=1, what="the 80 requests to both processes in the blog's signals")
    assert counted <= 80 * 1.05, f"each request counted once ({counted})"
    current = _blog_entry(dashboard)["signals"]["current"]
    assert current["rps"] > 0 and current["p50"] is not None and current["p99"] >= current["p50"]


def test_the_public_view_shows_the_count_and_no_address_or_process_id(two_blogs_and_a_dashboard):
    blogs, dashboard = two_blogs_and_a_dashboard
    entry = _blog_entry(dashboard, forwarded=True)
    assert entry["replicas"]["total"] == 2
    assert "pid" not in entry and "pids" not in entry
    text = json.dumps(entry)
    assert all(str(blog.port) not in text for blog in blogs), "no internal address"


def test_one_process_dead_is_degraded_with_the_others_figures_and_signals(two_blogs_and_a_dashboard):
    blogs, dashboard = two_blogs_and_a_dashboard
    blogs[0].kill()
    entry = wait_until(lambda: (e := _blog_entry(dashboard))["signals"]["replicas"]["scraped"] == 1 and e,
                       timeout=30, what="the dead process noticed by the scraper")
    assert entry["service_status"] == "degraded"
    assert entry["replicas"] == {"total": 2, "online": 1}
    assert entry["post_count"] == 0, "the figures of the process still up"
    assert entry["pids"].count(None) == 1 and blogs[1].process.pid in entry["pids"]
    signals = entry["signals"]
    assert signals["stale"] is False and signals["last_error"] is None
    assert signals["replicas"]["errors"] == ["ConnectError"]

    since = signals["last_scrape"]
    _read_posts(blogs[1], 40)
    wait_until(lambda: _requests_counted(_blog_entry(dashboard)["signals"], since) >= 40 * 0.95,
               timeout=45, interval=1, what="the living process's requests still in the signals")


def test_every_process_dead_is_offline_and_stale(two_blogs_and_a_dashboard):
    blogs, dashboard = two_blogs_and_a_dashboard
    for blog in blogs:
        blog.kill()
    entry = wait_until(lambda: (e := _blog_entry(dashboard))["signals"]["stale"] and e, timeout=30,
                       what="the blog's signals stale")
    assert entry["service_status"] == "offline" and entry["replicas"] == {"total": 2, "online": 0}
    assert entry["signals"]["last_error"] == "ConnectError"
