"""The comments service down (frozen, then killed): posts are still served, their pages say the comments are
unavailable, and a post deleted meanwhile loses its comments once the service is back (the blog's outbox)."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator

import pytest

from tests.platform.conftest import PLATFORM_ENV
from tests.platform.harness import Client, Platform, wait_until

UNAVAILABLE = "Comments are unavailable right now."


@pytest.fixture(scope="module")
def platform(own_platform) -> Platform:
    return own_platform(env=PLATFORM_ENV)


@contextlib.contextmanager
def frozen(platform: Platform, service: str) -> Iterator[None]:
    """The service's process stopped (SIGSTOP): it accepts connections and answers nothing, the worst outage."""
    pid = platform.pid_of(service)
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_posts_are_served_while_the_comments_service_answers_nothing(platform: Platform) -> None:
    writer = Client(platform.url).signed_up()
    kept = writer.create_post(title="Still readable").json()
    doomed = writer.create_post(title="Deleted during the outage").json()
    for post in (kept, doomed):
        answer = writer.http.post(f"/blog/api/posts/{post['id']}/comments", json={"body": "A comment"},
                                  headers=writer.auth)
        assert answer.status_code == 201, answer.text
    reader = Client(platform.url)
    with frozen(platform, "comments"):
        for _ in range(3):  # the first waits out the deadline, then the breaker answers at once
            page = reader.http.get(f"/blog/posts/{kept['id']}", follow_redirects=True)
            assert page.status_code == 200 and "Still readable" in page.text and UNAVAILABLE in page.text
        assert reader.http.get(f"/blog/api/posts/{kept['id']}").status_code == 200
        assert reader.http.get("/blog/").status_code == 200
        # Deleted now: the blog's outbox keeps the news until the comments service takes it.
        assert writer.http.delete(f"/blog/api/posts/{doomed['id']}", headers=writer.auth).status_code == 204
    wait_until(lambda: reader.http.get(f"/blog/api/posts/{doomed['id']}/comments").json() == [], timeout=60,
               what="the deleted post's comments to go once the comments service answers again")
    wait_until(lambda: UNAVAILABLE not in reader.http.get(f"/blog/posts/{kept['id']}", follow_redirects=True).text,
               what="the comments back on the post's page")
    assert "A comment" in reader.http.get(f"/blog/posts/{kept['id']}", follow_redirects=True).text
