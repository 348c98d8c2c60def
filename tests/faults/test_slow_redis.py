"""A slow Redis is treated as an absent one: the blog serves from its database, and says it is degraded."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.slow_proxy import SlowProxy
from tests.faults.test_overload import K6, SCRIPT
from tests.platform.harness import Client, Platform, wait_until

DELAY_SECONDS = 0.3  # every Redis reply, as in the outage this test stands for
USERS, SECONDS = 8, 8


@pytest.fixture(scope="module")
def slow_proxy(redis_server: str) -> Iterator[SlowProxy]:
    host, port = redis_server.removeprefix("redis://").split("/")[0].split(":")
    proxy = SlowProxy(host, int(port)).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def proxied(slow_proxy: SlowProxy, own_platform) -> tuple[Platform, SlowProxy]:
    """A platform of this module's own (its Redis is slowed down), on the test Redis through the proxy."""
    env = {"TITANIUM_REDIS_URL": f"redis://127.0.0.1:{slow_proxy.port}/0", "TITANIUM_RATE_LIMIT_PER_ADDRESS": "1000000/minute"}
    running = own_platform(redis=True, env=env)
    author = Client(running.url).signed_up()
    for number in range(20):
        author.create_post(title=f"Post {number}", content="Words. " * 200, category_name="Load")
    return running, slow_proxy


def throughput(platform: Platform, scratch: Path) -> float:
    """Post lists a second through the gateway, from k6's USERS users over SECONDS (every answer a 200)."""
    summary = scratch / "slow-redis.json"
    subprocess.run([str(K6), "run", "--quiet", "--address", "", "--summary-export", str(summary), str(SCRIPT)],
                   env={**os.environ, "BASE_URL": platform.url, "VUS": str(USERS), "DURATION": f"{SECONDS}s"},
                   stdout=subprocess.DEVNULL, check=False)
    metrics = json.loads(summary.read_text())["metrics"]
    assert metrics["http_req_failed"]["value"] == 0
    return metrics["http_reqs"]["count"] / SECONDS


def blog_status(platform: Platform) -> str:
    return platform.stats()["blog"]["service_status"]


def test_a_slow_redis_keeps_half_the_throughput_and_shows_as_degraded(proxied, tmp_path):
    platform, proxy = proxied
    healthy = throughput(platform, tmp_path)
    # Not read at one moment: on a loaded machine a quick Redis can still miss a reply's deadline now and
    # then, and the blog says so until its next try succeeds.
    wait_until(lambda: blog_status(platform) == "online", what="the blog online with a quick Redis")

    proxy.delay = DELAY_SECONDS
    try:
        slow = throughput(platform, tmp_path)
        wait_until(lambda: blog_status(platform) == "degraded", what="the blog degraded with a slow Redis")
    finally:
        proxy.delay = 0.0
    print(f"post lists a second: {healthy:.0f} with a healthy Redis, {slow:.0f} with one {DELAY_SECONDS}s slow")
    assert slow >= healthy / 2
    wait_until(lambda: blog_status(platform) == "online", what="the blog to be online again once Redis is quick")
