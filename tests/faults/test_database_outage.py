"""While PostgreSQL shuts down, restarts or recovers from a crash, requests get 503 (try again), never 500.

Before, asyncpg's "terminating connection due to administrator command"
and "the database system is shutting down / starting up" reached the
services as unexpected errors: 6 answers of 500 during a 20 s stop, 13
after a postmaster kill -9, beside the expected 503s (issue 16, item 4).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from tests.faults.load import Threads
from tests.faults.servers import PrivatePostgres
from tests.platform.conftest import PLATFORM_ENV
from tests.platform.harness import Client, Platform, wait_until

READERS, WRITERS = 2, 2


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, PrivatePostgres]]:
    postgres = PrivatePostgres()
    postgres.start()
    env = {**PLATFORM_ENV, "TITANIUM_USERS_DATABASE_URL": f"{postgres.url}/titanium_users",
           "TITANIUM_BLOG_DATABASE_URL": f"{postgres.url}/titanium_blog", "TITANIUM_DATABASE_POOL_SIZE": "4",
           "TITANIUM_RATE_LIMIT_PER_ADDRESS": "100000/minute"}
    platform = Platform(tmp_path_factory.mktemp("outage"), env).start()
    yield platform, postgres
    platform.stop()
    postgres.remove()


class Load(Threads):
    """Readers that miss the cache (a new offset each time) and writers, every answer's status counted."""

    def __init__(self, platform: Platform) -> None:
        super().__init__()
        self.platform = platform
        self.statuses: Counter[int] = Counter()
        self.lock = threading.Lock()
        for writer in [Client(platform.url).signed_up() for _ in range(WRITERS)]:
            self.add(self._write, writer)
        for number in range(READERS):
            self.add(self._read, number)

    def _count(self, send) -> None:
        try:
            status = send().status_code
        except httpx.HTTPError:
            status = 0
        with self.lock:
            self.statuses[status] += 1

    def _write(self, writer: Client) -> None:
        while not self.stop.is_set():
            self._count(lambda: writer.create_post(title="Written during an outage"))

    def _read(self, number: int) -> None:
        reader = Client(self.platform.url)
        offset = number
        while not self.stop.is_set():
            offset += READERS
            self._count(lambda offset=offset: reader.http.get("/blog/api/posts", params={"offset": offset % 997}))


def _serving_again(platform: Platform) -> None:
    reader = Client(platform.url)
    wait_until(lambda: reader.http.get("/blog/api/posts", params={"offset": 998}).status_code == 200, timeout=60,
               what="the blog reading from PostgreSQL again")


@pytest.mark.parametrize("fault", ["restart", "crash"])
def test_an_outage_of_postgresql_is_503_not_500(outage, fault):
    platform, postgres = outage
    with Load(platform) as load:
        time.sleep(1)
        if fault == "restart":
            postgres.stop("fast")
        else:
            postgres.crash()
        time.sleep(3)
        postgres.start()
        time.sleep(2)
    _serving_again(platform)
    assert load.statuses[503] > 0, f"the outage was seen: {load.statuses}"
    assert set(load.statuses) <= {200, 201, 503}, f"no 500, no broken answer: {load.statuses}"
