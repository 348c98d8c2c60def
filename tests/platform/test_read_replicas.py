"""The blog with a streaming read replica, through its HTTP API and pages (PostgreSQL and Redis).

A primary and a replica of the test's own (tests/replication.py); the
platform's blog reads from the replica and says so in
`db_reads_total{service="blog",target=...}`. Readers carry no token, so
nothing here depends on who asks: what a writer sees at once, everybody does.
"""

from __future__ import annotations

import itertools
import threading

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.platform.conftest import PLATFORM_ENV
from tests.platform.harness import Client, Platform, unique, wait_until
from tests.replication import ReplicatedPostgres

# Each uncached read asks for a list page never asked before: a read the database answers.
_offsets = itertools.count(1000)


@pytest.fixture(scope="module")
def replicated():
    pair = ReplicatedPostgres(replicas=1).start()
    yield pair
    pair.remove()


@pytest.fixture(scope="module")
def platform(tmp_path_factory, replicated, redis_server, redis_prefix):
    primary, replica = replicated.primary, replicated.replicas[0]
    env = {
        **PLATFORM_ENV,
        "TITANIUM_RATE_LIMIT_PER_ADDRESS": "100000/minute",  # the reads, not the limits, are under test
        "TITANIUM_USERS_DATABASE_URL": primary.database_url("titanium_users"),
        "TITANIUM_BLOG_DATABASE_URL": primary.database_url("titanium_blog"),
        "TITANIUM_BLOG_DATABASE_READ_URL": replica.database_url("titanium_blog"),
        # Far above any lag here: a paused replica stays in use, so what keeps a write's
        # readers off it is the write's position, not its lag.
        "TITANIUM_BLOG_DATABASE_READ_MAX_LAG_SECONDS": "600",
        "TITANIUM_REDIS_URL": redis_server,
        "TITANIUM_REDIS_PREFIX": f"{redis_prefix}-read-replicas",
        "TITANIUM_DATABASE_POOL_SIZE": "4",
    }
    running = Platform(tmp_path_factory.mktemp("read-replicas"), env).start()
    yield running
    assert running.stop() == 0, running.output()


@pytest.fixture
def replica(replicated):
    cluster = replicated.replicas[0]
    yield cluster
    replicated.restore(cluster)  # as the next test expects it


def reads_served(platform: Platform, target: str) -> float:
    text = httpx.get(platform.service_url("blog") + "/metrics", timeout=10).text
    return next(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
                if sample.name == "db_reads_total" and sample.labels == {"service": "blog", "target": target})


def blog_status(platform: Platform) -> dict:
    return httpx.get(platform.service_url("blog") + "/status", timeout=10).json()


def uncached_read(client: Client) -> httpx.Response:
    answer = client.http.get("/blog/api/posts", params={"offset": next(_offsets), "limit": 1})
    assert answer.status_code == 200, answer.text
    return answer


def served_by_replica(platform: Platform, read) -> bool:
    before = reads_served(platform, "replica")
    read()
    return reads_served(platform, "replica") > before


def until_the_replica_has_everything(platform: Platform, replicated: ReplicatedPostgres, reader: Client) -> None:
    """Until the replica has replayed every write so far, and the blog has polled it since."""
    replicated.wait_until_replayed(replicated.replicas[0])
    wait_until(lambda: served_by_replica(platform, lambda: uncached_read(reader)), what="a read served by the replica")


def test_a_readers_reads_are_served_by_the_replica(platform, replicated, replica):
    writer, reader = Client(platform.url).signed_up(), Client(platform.url)
    posts = [writer.create_post(title=f"From the replica {number}").json() for number in range(3)]
    until_the_replica_has_everything(platform, replicated, reader)

    before = reads_served(platform, "replica")
    for post in posts:
        assert reader.http.get(f"/blog/api/posts/{post['id']}").json()["title"] == post["title"]
        page = reader.http.get(f"/blog/posts/{post['id']}", follow_redirects=True)
        assert page.status_code == 200 and post["title"] in page.text
    assert reads_served(platform, "replica") >= before + 2 * len(posts)  # each post's API answer and page
    assert blog_status(platform)["checks"]["replica_1"] == "ok"


def test_a_writer_sees_their_own_post_edit_and_delete_at_once_while_the_replica_replays_nothing(
        platform, replicated, replica):
    writer, anybody = Client(platform.url).signed_up(), Client(platform.url)
    older = writer.create_post(title="Written before the pause").json()
    until_the_replica_has_everything(platform, replicated, anybody)
    replicated.pause_replay(replica)
    primary_reads = reads_served(platform, "primary")

    category = unique("paused")
    post = writer.create_post(title="Written while paused", category_name=category).json()
    for person in (writer, anybody):  # the rule needs no token: whoever reads next, reads the write
        assert person.http.get(f"/blog/api/posts/{post['id']}").json()["title"] == "Written while paused"
        assert "Written while paused" in person.http.get(f"/blog/posts/{post['id']}", follow_redirects=True).text
        assert person.http.get("/blog/api/posts").json()[0]["id"] == post["id"]
        assert [p["id"] for p in person.http.get("/blog/api/posts", params={"category": category}).json()] == [post["id"]]
        assert "Written while paused" in person.http.get("/blog/").text

    edited = writer.http.patch(f"/blog/api/posts/{post['id']}", json={"title": "Edited while paused"}, headers=writer.auth)
    assert edited.status_code == 200
    for person in (writer, anybody):
        assert person.http.get(f"/blog/api/posts/{post['id']}").json()["title"] == "Edited while paused"
        assert "Edited while paused" in person.http.get(f"/blog/posts/{post['id']}", follow_redirects=True).text
        assert person.http.get("/blog/api/posts").json()[0]["title"] == "Edited while paused"

    assert writer.http.delete(f"/blog/api/posts/{post['id']}", headers=writer.auth).status_code == 204
    for person in (writer, anybody):
        assert person.http.get(f"/blog/api/posts/{post['id']}").status_code == 404
        assert person.http.get(f"/blog/posts/{post['id']}").status_code == 404
        assert post["id"] not in [p["id"] for p in person.http.get("/blog/api/posts").json()]
        assert person.http.get("/blog/api/posts", params={"category": category}).json() == []

    assert reads_served(platform, "primary") > primary_reads
    # The replica was in use all along, for what these writes did not change.
    assert served_by_replica(platform, lambda: anybody.http.get(f"/blog/api/posts/{older['id']}"))
    assert blog_status(platform)["checks"]["replica_1"] == "ok"


class Readers:
    """People reading the blog from threads of their own, every answer's status kept."""

    def __init__(self, platform: Platform, count: int = 2) -> None:
        self.stop = threading.Event()
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._read, args=(Client(platform.url),)) for _ in range(count)]
        for thread in self.threads:
            thread.start()

    def _read(self, client: Client) -> None:
        while not self.stop.is_set():
            answer = client.http.get("/blog/api/posts", params={"offset": next(_offsets), "limit": 1})
            with self.lock:
                self.statuses.append(answer.status_code)

    def answered(self) -> int:
        with self.lock:
            return len(self.statuses)

    def finish(self) -> list[int]:
        self.stop.set()
        for thread in self.threads:
            thread.join()
        return self.statuses


def test_a_replica_stopped_under_reads_costs_no_error_and_is_used_again_when_it_returns(platform, replicated, replica):
    reader = Client(platform.url)
    until_the_replica_has_everything(platform, replicated, reader)
    readers = Readers(platform)
    try:
        wait_until(lambda: readers.answered() >= 20, what="reads under way")
        replica.stop()
        wait_until(lambda: blog_status(platform)["checks"]["replica_1"] == "error", what="the replica left out")
        status = blog_status(platform)
        assert status["service_status"] == "degraded"
        # Whichever saw it first says why: the probe ("not answering") or a read sent there ("a read failed").
        assert status["read_replicas"]["replica_1"] in ("left out: not answering", "left out: a read failed")
        assert httpx.get(platform.service_url("blog") + "/health/ready").status_code == 200  # degraded, still ready
        answered = readers.answered()
        wait_until(lambda: readers.answered() >= answered + 20, what="reads while the replica is down")
    finally:
        statuses = readers.finish()
    assert set(statuses) == {200}, f"{len(statuses) - statuses.count(200)} of {len(statuses)} reads failed"

    replica.start()
    replicated.wait_until_streaming(replica)
    wait_until(lambda: blog_status(platform)["checks"]["replica_1"] == "ok", what="the replica back in use")
    assert blog_status(platform)["service_status"] == "online"
    wait_until(lambda: served_by_replica(platform, lambda: uncached_read(reader)), what="a read served by the replica")
