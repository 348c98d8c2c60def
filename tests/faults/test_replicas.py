"""Two processes of a service: one of them dying under load costs the clients nothing.

`titanium up --replicas blog=2,users=2,auth=2` (with Redis, which they
share); each second process is SIGKILLed in turn while people keep reading,
writing (each create with an Idempotency-Key, as the web app sends) and
logging in through the gateway. A request that never reached the dead
process goes to the other one; one that was inside it when it died is sent
again to the other when that is safe: a read, a login, a credential check,
a write with a key (the service answers a key once).
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections import Counter

import httpx
import pytest

from tests.faults.load import Threads
from tests.platform.conftest import PLATFORM_ENV
from tests.platform.harness import Client, Platform, unique, wait_until
from titanium.supervisor import process_label

KILLED = ("blog", "users", "auth")
WRITERS, READERS, LOGINS = 2, 3, 1


@pytest.fixture(scope="module")
def platform(private_redis, own_platform):
    """A platform of this module's own: these tests kill its processes."""
    env = {**PLATFORM_ENV, "TITANIUM_REDIS_URL": private_redis.url,
           # The load, not the limits, is under test here.
           "TITANIUM_RATE_LIMIT_PER_ADDRESS": "100000/minute", "TITANIUM_LOGIN_RATE_LIMIT_PER_ADDRESS": "100000/minute",
           "TITANIUM_LOGIN_RATE_LIMIT_PER_USERNAME_AND_ADDRESS": "100000/minute",
           # The default: a write resent after its process died waits up to
           # its idempotency lease (3 s) for that process's claim to lapse.
           "TITANIUM_UPSTREAM_READ_TIMEOUT": "10"}
    return own_platform(replicas="blog=2,users=2,auth=2", env=env)


def second_process_url(platform: Platform, service: str) -> str:
    """Where `titanium up` puts a service's second process: the first's port plus 10."""
    first = platform.service_url(service)
    host, port = first.rsplit(":", 1)
    return f"{host}:{int(port) + 10}"


def pid_at(url: str) -> int:
    return int(httpx.get(f"{url}/status", timeout=5).json()["pid"])


def requests_answered_by(platform: Platform, label: str) -> int:
    return sum('"event":"request"' in line for line in platform.log(label).splitlines())


class Load(Threads):
    """People using the platform from threads of their own; every answer's status is counted by what it was."""

    def __init__(self, platform: Platform) -> None:
        super().__init__()
        self.platform = platform
        self.statuses: dict[str, Counter[int]] = {"read": Counter(), "write": Counter(), "login": Counter()}
        self.created: list[tuple[int, str]] = []  # (id, title) of every create acknowledged with a 201
        self.lock = threading.Lock()
        self.writers = [Client(platform.url).signed_up() for _ in range(WRITERS)]
        self.post_id = self.writers[0].create_post(title="Read under load").json()["id"]
        for writer in self.writers:
            self.add(self._write, writer)
        for _ in range(READERS):
            self.add(self._read)
        for _ in range(LOGINS):
            self.add(self._login, self.writers[0].username)

    def _count(self, kind: str, send) -> httpx.Response | None:
        try:
            answer = send()
        except httpx.HTTPError:
            answer = None
        with self.lock:
            self.statuses[kind][answer.status_code if answer is not None else 0] += 1  # 0: no answer at all
        return answer

    def _write(self, writer: Client) -> None:
        while not self.stop.is_set():
            title = unique("under load ")
            body = {"title": title, "content": "Written while a process dies", "category_name": "Load"}
            headers = {**writer.auth, "Idempotency-Key": str(uuid.uuid4())}
            answer = self._count("write", lambda body=body, headers=headers: writer.http.post(
                "/blog/api/posts", json=body, headers=headers))
            if answer is not None and answer.status_code == 201:
                with self.lock:
                    self.created.append((answer.json()["id"], title))

    def _read(self) -> None:
        reader = Client(self.platform.url)
        paths = ["/blog/api/posts?limit=20", f"/blog/api/posts/{self.post_id}", "/blog/api/categories"]
        while not self.stop.is_set():
            for path in paths:
                self._count("read", lambda path=path: reader.http.get(path))

    def _login(self, username: str) -> None:
        person = Client(self.platform.url)
        person.username = username
        while not self.stop.is_set():
            self._count("login", person.login)


def test_the_gateway_sends_requests_to_every_process_of_a_service(platform):
    # Reads go in turn to the processes in service; on a busy machine a
    # process may be out for a moment (a readiness probe slower than 1 s), so
    # reads go on until each has answered its share, not a fixed number.
    before = {label: requests_answered_by(platform, label) for label in ("blog", "blog-2")}
    reader = Client(platform.url)

    def each_process_answered_some() -> bool:
        for _ in range(10):
            assert reader.http.get("/blog/api/categories").status_code == 200
        return all(requests_answered_by(platform, label) >= before[label] + 15 for label in before)

    wait_until(each_process_answered_some, timeout=60, what="both blog processes answering 15 reads each")


def test_killing_one_process_of_each_service_under_load_fails_no_request_that_never_reached_it(platform):
    with Load(platform) as load:
        time.sleep(2)
        for service in KILLED:
            url = second_process_url(platform, service)
            pid = pid_at(url)
            os.kill(pid, signal.SIGKILL)
            # Until the supervisor has it back, the other process takes everything.
            wait_until(lambda url=url, pid=pid: pid_at(url) != pid, timeout=60,
                       what=f"{service}'s second process started again")
            time.sleep(1)
    statuses = load.statuses
    total = {kind: sum(counter.values()) for kind, counter in statuses.items()}
    assert total["read"] > 100 and total["write"] > 20 and total["login"] > 5, statuses
    assert set(statuses["read"]) == {200}, f"every read answered: {statuses}"
    assert set(statuses["write"]) == {201}, f"every write answered: {statuses}"
    assert set(statuses["login"]) == {200}, f"every login answered: {statuses}"
    # Nothing acknowledged is lost, and nothing is made twice.
    reader = Client(platform.url)
    for post_id, title in load.created:
        assert reader.http.get(f"/blog/api/posts/{post_id}").json()["title"] == title
    titles = [post["title"] for post in all_posts(reader) if post["title"].startswith("under load ")]
    assert sorted(titles) == sorted(title for _, title in load.created)


def all_posts(reader: Client) -> list[dict]:
    posts, offset = [], 0
    while page := reader.http.get("/blog/api/posts", params={"limit": 100, "offset": offset}).json():
        posts += page
        offset += len(page)
    return posts


def test_a_process_that_comes_back_gets_requests_again(platform):
    url = second_process_url(platform, "blog")
    pid = pid_at(url)
    os.kill(pid, signal.SIGKILL)
    reader = Client(platform.url)
    for _ in range(10):  # the gateway finds it gone and takes it out
        assert reader.http.get("/blog/api/categories").status_code == 200
    wait_until(lambda: pid_at(url) != pid, timeout=60, what="the blog's second process started again")
    answered = requests_answered_by(platform, "blog-2")

    def second_process_answers() -> bool:
        reader.http.get("/blog/api/categories")
        return requests_answered_by(platform, "blog-2") > answered

    wait_until(second_process_answers, timeout=30, what="the gateway sending to the second blog process again")


def test_a_process_that_dies_while_starting_is_started_again_at_once(platform):
    url = second_process_url(platform, "users")
    exits_before = platform.output().count("users-2 exited")
    os.kill(pid_at(url), signal.SIGKILL)
    starting = caught_starting(platform, "users", 1)
    os.kill(starting, signal.SIGKILL)
    # The supervisor sees it die while it is starting and starts it again,
    # instead of waiting out the readiness timeout (60 s).
    wait_until(lambda: platform.output().count("users-2 exited") >= exits_before + 2, timeout=20,
               what="the supervisor noticing the death during start-up")
    wait_until(lambda: httpx.get(f"{url}/health/ready", timeout=2).status_code == 200, timeout=60,
               what="users-2 ready again")


def caught_starting(platform: Platform, service: str, replica: int) -> int:
    """The pid of the process the supervisor starts after the one just killed, stopped (SIGSTOP) before it
    became ready: a forked service is ready a few tenths of a second after it appears, so a test that
    looks late tries again with the next one."""
    label = process_label(service, replica)
    for _ in range(5):
        old = platform.pid_of(service, replica)
        backs = platform.output().count(f"{label} is back")
        pid = wait_until(lambda old=old: (found := platform.pid_of(service, replica)) not in (None, old) and found,
                         timeout=30, interval=0.01, what=f"{label} starting again")
        os.kill(pid, signal.SIGSTOP)  # a stopped process answers no readiness probe
        if platform.output().count(f"{label} is back") == backs:
            return pid
        os.kill(pid, signal.SIGKILL)  # it was ready before it was caught
    raise AssertionError(f"{label} was ready each time before it could be caught starting")


def test_a_process_that_stops_answering_leaves_the_rotation_before_any_reader_times_out(platform):
    # SIGSTOP: the process still accepts connections (the kernel does) but answers nothing. Readers
    # already waiting on it are sent to the other process once it fails its readiness probe; new
    # ones go to the other at once. Before, each waited out the 10 s read time-out and got a 504.
    url = second_process_url(platform, "blog")
    pid = pid_at(url)
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    stop = threading.Event()

    def read() -> None:
        reader = Client(platform.url)
        while not stop.is_set():
            try:
                status = reader.http.get("/blog/api/categories").status_code
            except httpx.HTTPError:
                status = 0
            with lock:
                statuses[status] += 1

    readers = [threading.Thread(target=read) for _ in range(READERS)]
    for thread in readers:
        thread.start()
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(12)  # past the gateway's read time-out: a reader stuck on the frozen process would have its 504
    finally:
        stop.set()
        for thread in readers:
            thread.join()
        os.kill(pid, signal.SIGCONT)
    assert set(statuses) == {200} and statuses[200] > 20, statuses
