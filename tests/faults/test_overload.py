"""Overload: past its bound on requests in flight, a service refuses at once instead of making every answer late."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.platform.harness import Client, Platform

K6 = Path(sys.executable).with_name("k6")
SCRIPT = Path(__file__).with_name("overload.js")
BOUND = 4
ENV = {"TITANIUM_MAX_IN_FLIGHT": str(BOUND), "TITANIUM_RATE_LIMIT_PER_ADDRESS": "1000000/minute"}


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


def test_excess_requests_are_refused_at_once_and_admitted_ones_keep_their_latency(platform, tmp_path):
    within_bound = k6(platform, BOUND, 8, tmp_path)
    assert within_bound["http_req_failed"]["value"] == 0, "nothing is refused within the bound"
    normal = within_bound["http_req_duration{expected_response:true}"]["med"]

    overload = k6(platform, 16 * BOUND, 8, tmp_path)
    assert overload["checks"]["fails"] == 0, "every answer is a 200, or a 503 with Retry-After and a JSON reason"
    refused_share = overload["http_req_failed"]["value"]
    refused_count = overload["http_req_duration{expected_response:false}"]["count"]
    # A refused user waits out Retry-After (1 s), so refusals are at most
    # about one a user a second, whatever the machine's speed: their share of
    # all answers falls as the platform gets faster, their count does not.
    assert refused_count >= 16 * BOUND, f"the excess is refused: {refused_count} refusals"
    admitted = overload["http_req_duration{expected_response:true}"]["med"]
    refused = overload["http_req_duration{expected_response:false}"]["med"]
    # Without the bound every answer would wait behind 16 times as many
    # others (about 16x the latency); the refused wait out Retry-After instead.
    print(f"within the bound: median {normal:.1f} ms; overloaded: {refused_share:.0%} refused, "
          f"admitted median {admitted:.1f} ms, refused median {refused:.1f} ms")
    assert admitted < 3 * normal, (admitted, normal)
    assert refused < 3 * normal, "a refusal comes at once, not after a wait in line"


def test_probes_are_answered_and_not_counted_as_traffic_while_it_is_refused(platform, tmp_path):
    scratch = tmp_path
    async def probe_during_overload() -> list[int]:
        overload = asyncio.create_task(asyncio.to_thread(k6, platform, 16 * BOUND, 4, scratch))
        statuses = []
        async with httpx.AsyncClient(timeout=10) as client:
            while not overload.done():
                statuses.append((await client.get(platform.service_url("blog") + "/health/ready")).status_code)
                await asyncio.sleep(0.05)
        await overload
        return statuses

    assert set(asyncio.run(probe_during_overload())) == {200}
    metrics = httpx.get(platform.service_url("blog") + "/metrics").text
    assert 'http_probe_requests_total{route="/health/ready",service="blog",status="200"}' in metrics
    assert 'route="/health/ready"' not in "".join(line for line in metrics.splitlines()
                                                    if line.startswith("http_requests_total"))
