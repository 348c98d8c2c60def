"""Overload: past its bound on requests in flight, a service refuses the excess instead of making every answer wait."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from tests.platform.harness import Client, Platform

K6 = Path(sys.executable).with_name("k6")
SCRIPT = Path(__file__).with_name("overload.js")
BOUND = 4
ENV = {"TITANIUM_MAX_IN_FLIGHT": str(BOUND), "TITANIUM_RATE_LIMIT_PER_ADDRESS": "1000000/minute"}
T = TypeVar("T")


@pytest.fixture(scope="module")
def platform(own_platform) -> Platform:
    """A platform of this module's own: it is loaded until it refuses."""
    running = own_platform(env=ENV)
    author = Client(running.url).signed_up()
    for number in range(20):
        author.create_post(title=f"Post {number}", content="Words. " * 200, category_name="Load")
    return running


def k6(platform: Platform, users: int, seconds: int, scratch: Path) -> dict:
    """k6's summary of `users` reading the post list through the gateway for `seconds`."""
    summary = scratch / f"overload-{users}.json"
    subprocess.run([str(K6), "run", "--quiet", "--address", "", "--summary-export", str(summary), str(SCRIPT)],
                   env={**os.environ, "BASE_URL": platform.url, "VUS": str(users), "DURATION": f"{seconds}s"},
                   stdout=subprocess.DEVNULL, check=False)
    return json.loads(summary.read_text())["metrics"]


def while_loaded(platform: Platform, users: int, seconds: int, scratch: Path, look: Callable[[], T]) -> tuple[dict, list[T]]:
    """k6's summary of `users` reading for `seconds`, and what `look()` saw every 50 ms meanwhile."""
    async def looking() -> tuple[dict, list[T]]:
        load = asyncio.create_task(asyncio.to_thread(k6, platform, users, seconds, scratch))
        seen = []
        while not load.done():
            seen.append(await asyncio.to_thread(look))
            await asyncio.sleep(0.05)
        return await load, seen

    return asyncio.run(looking())


def gateway_in_flight(platform: Platform) -> float:
    """The gateway's requests being answered, from its /metrics (a scrape is never refused, nor counted there)."""
    metrics = httpx.get(platform.url + "/metrics", timeout=10).text
    return next(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                if line.startswith('http_requests_in_flight{service="gateway"}'))


def test_excess_requests_are_refused_and_never_more_than_the_bound_are_answered_at_once(platform, tmp_path):
    within_bound = k6(platform, BOUND, 8, tmp_path)
    assert within_bound["http_req_failed"]["value"] == 0, "nothing is refused within the bound"

    overload, in_flight = while_loaded(platform, 16 * BOUND, 8, tmp_path, lambda: gateway_in_flight(platform))
    assert overload["checks"]["fails"] == 0, "every answer is a 200, or a 503 with Retry-After and a JSON reason"
    refused_count = overload["http_req_duration{expected_response:false}"]["count"]
    # A refused user waits out Retry-After (1 s), so refusals are at most
    # about one a user a second, whatever the machine's speed: their share of
    # all answers falls as the platform gets faster, their count does not.
    assert refused_count >= 16 * BOUND, f"the excess is refused: {refused_count} refusals"
    assert in_flight and max(in_flight) <= BOUND, f"more than {BOUND} answered at once: {sorted(in_flight)[-5:]}"
    # That a refusal comes at once, not after a wait in line, is shown in-process
    # (tests/unit/test_request_middleware.py): latencies here are the machine's as much as the platform's.
    normal, admitted, refused = (summary[f"http_req_duration{{expected_response:{ok}}}"]["med"]
                                 for summary, ok in ((within_bound, "true"), (overload, "true"), (overload, "false")))
    print(f"within the bound: median {normal:.1f} ms; overloaded: {overload['http_req_failed']['value']:.0%} refused, "
          f"admitted median {admitted:.1f} ms, refused median {refused:.1f} ms")


def test_probes_are_answered_and_not_counted_as_traffic_while_it_is_refused(platform, tmp_path):
    readiness = platform.service_url("blog") + "/health/ready"
    _, statuses = while_loaded(platform, 16 * BOUND, 4, tmp_path, lambda: httpx.get(readiness, timeout=10).status_code)
    assert set(statuses) == {200}
    metrics = httpx.get(platform.service_url("blog") + "/metrics").text
    assert 'http_probe_requests_total{route="/health/ready",service="blog",status="200"}' in metrics
    assert 'route="/health/ready"' not in "".join(line for line in metrics.splitlines()
                                                    if line.startswith("http_requests_total"))
