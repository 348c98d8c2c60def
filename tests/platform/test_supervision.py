"""`titanium up` keeps the platform alive, and the gateway answers fast when a service is not."""

import os
import signal

import pytest

from tests.platform.conftest import FREEZING_ENV
from tests.platform.harness import SERVICES, Client, alive, logged_request, wait_until


@pytest.fixture(scope="module")
def platform(own_platform):
    """A platform of this module's own: these tests kill and freeze its services."""
    return own_platform(env=FREEZING_ENV)


def test_a_killed_service_is_restarted_and_serves_again(platform):
    person = Client(platform.url).signed_up()
    post_id = person.create_post(title="Survives").json()["id"]
    old_pid = platform.pid_of("blog")
    with platform.restarts_held():
        os.kill(old_pid, signal.SIGKILL)
        wait_until(lambda: not alive(old_pid), what="the blog process to die")
        down = person.http.get(f"/blog/api/posts/{post_id}")
    assert down.status_code == 503 and "blog" in down.json()["detail"]
    failed = wait_until(lambda: logged_request(platform, "gateway", down.headers["x-request-id"]),
                        what="the gateway's line for the 503")
    assert failed["status"] == 503 and failed["level"] == "error", "a failed answer stands out in the log"

    back = wait_until(lambda: (answer := person.http.get(f"/blog/api/posts/{post_id}")).status_code == 200 and answer,
                      timeout=60, what="the blog answering again")
    assert back.json()["title"] == "Survives"
    assert platform.pid_of("blog") not in (None, old_pid)
    assert "blog exited with code -9" in platform.output() and "restarting in" in platform.output()
    wait_until(lambda: "blog is back" in platform.output(), what="the supervisor to report blog back")


def test_a_dead_upstream_shows_offline_in_stats_while_the_rest_answer(platform):
    old_pid = platform.pid_of("users")
    with platform.restarts_held():
        os.kill(old_pid, signal.SIGKILL)
        wait_until(lambda: not alive(old_pid), what="the users process to die")
        stats = wait_until(lambda: (answer := platform.stats())["users"]["service_status"] == "offline" and answer,
                           what="users shown offline (at the dashboard's next round)")
    assert stats["blog"]["service_status"] == "online"
    wait_until(lambda: platform.stats()["users"]["service_status"] == "online", timeout=60, what="users back")


def test_a_frozen_upstream_gives_504_not_a_hang(platform):
    person = Client(platform.url)
    pid = platform.pid_of("blog")
    os.kill(pid, signal.SIGSTOP)
    try:
        answer = person.http.get("/blog/api/categories")
    finally:
        os.kill(pid, signal.SIGCONT)
    assert answer.status_code == 504
    assert answer.json()["detail"] == "the blog service did not answer in time"
    wait_until(lambda: person.http.get("/blog/api/categories").status_code == 200, what="blog answering again")


def test_a_browser_asking_for_a_page_of_a_frozen_service_gets_a_page_with_a_way_back(platform):
    person = Client(platform.url)
    pid = platform.pid_of("blog")
    os.kill(pid, signal.SIGSTOP)
    try:
        page = person.http.get("/blog/?page=2", headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        api = person.http.get("/blog/api/posts", headers={"accept": "text/html,*/*"})
    finally:
        os.kill(pid, signal.SIGCONT)
    assert page.status_code == 504 and page.headers["content-type"].startswith("text/html")
    assert "<h1>This page is unavailable for a moment</h1>" in page.text
    assert 'href="/blog/?page=2">Try again</a>' in page.text
    assert api.status_code == 504 and api.json()["detail"] == "the blog service did not answer in time", "an API stays JSON"
    wait_until(lambda: person.http.get("/blog/api/categories").status_code == 200, what="blog answering again")


def test_sigterm_stops_every_service(own_platform):
    platform = own_platform(env=FREEZING_ENV)
    pids = [platform.pid_of(name) for name in SERVICES]
    platform.process.send_signal(signal.SIGTERM)
    assert platform.process.wait(timeout=30) == 0
    assert not any(alive(pid) for pid in pids)
    assert "stopped" in platform.output()
