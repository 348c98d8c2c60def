"""A public RealWorld frontend, unchanged but for its API address, against Titanium in Chromium (issue 18, ADR 20).

mutoe/vue3-realworld-example-app, built outside the project with
`VITE_API_HOST=http://127.0.0.1:8000/realworld npx vite build`
(README, "RealWorld"), served here from its own origin; TITANIUM_REALWORLD_FRONTEND
names its `dist`. The address it was built with is replaced, as it is served,
by this test's platform's gateway (the only change), and the gateway allows the
frontend's origin (TITANIUM_CORS_ORIGINS). Two people sign up; one writes an
article with tags; the other follows the author, favourites the article,
comments on it, and finds it in their feed. What the browser showed is then
checked on the platform's own API: the article is a post of the blog.
"""

from __future__ import annotations

import functools
import io
import os
import re
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import PLATFORM_ENV, TIMEOUT_MS, VIEWPORTS, screenshot
from tests.platform.harness import PASSWORD, Platform, Platforms, unique

DIST = Path(os.environ.get("TITANIUM_REALWORLD_FRONTEND", "."))
# The API address the frontend was built with (VITE_API_HOST), replaced by the test platform's.
BUILT_API = os.environ.get("TITANIUM_REALWORLD_FRONTEND_API", "http://127.0.0.1:8000/realworld")


class _Frontend(SimpleHTTPRequestHandler):
    """The built frontend's files, its scripts pointed at the test's gateway instead of the address it was built with."""

    api = BUILT_API

    def send_head(self):  # type: ignore[no-untyped-def]
        path = Path(self.translate_path(self.path))
        if path.suffix != ".js" or not path.is_file():
            return super().send_head()
        body = path.read_bytes().replace(BUILT_API.encode(), self.api.encode())
        self.send_response(200)
        self.send_header("Content-Type", "text/javascript")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def frontend() -> Iterator[tuple[ThreadingHTTPServer, str]]:
    index = DIST / "index.html"
    assert index.is_file(), f"TITANIUM_REALWORLD_FRONTEND={DIST} has no index.html: build the frontend (README)"
    assert BUILT_API.encode() in b"".join(path.read_bytes() for path in (DIST / "assets").glob("*.js")), (
        f"the frontend was not built with VITE_API_HOST={BUILT_API} (TITANIUM_REALWORLD_FRONTEND_API)")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Frontend, directory=str(DIST)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def platform(platforms: Platforms, frontend: tuple[ThreadingHTTPServer, str]) -> Iterator[Platform]:
    _, origin = frontend
    running = platforms.start(env={**PLATFORM_ENV, "TITANIUM_CORS_ORIGINS": origin})
    _Frontend.api = f"{running.url}/realworld"
    yield running
    platforms.stop(running)


def person(browser: Browser, origin: str, viewport: str) -> Page:
    context = browser.new_context(viewport=VIEWPORTS[viewport], base_url=origin, locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def sign_up(page: Page, username: str) -> None:
    page.goto("/#/register")
    page.get_by_placeholder("Your Name").fill(username)
    page.get_by_placeholder("Email").fill(f"{username}@example.com")
    page.get_by_placeholder("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("link", name=username).first).to_be_visible()


def test_sign_up_write_comment_favourite_follow_and_read_the_feed(browser, platform, frontend):
    _, origin = frontend
    writer_name, reader_name = unique("writer"), unique("reader")
    writer = person(browser, origin, "desktop")
    sign_up(writer, writer_name)

    writer.goto("/#/article/create")
    writer.get_by_placeholder("Article Title").fill("Dragons of the North")
    writer.get_by_placeholder("What's this article about?").fill("A field guide")
    writer.get_by_placeholder("Write your article (in markdown)").fill("They **breathe** ice.\n\n- scales\n- wings")
    for tag in ("dragons", "field-guide"):
        writer.get_by_placeholder("Enter tags").fill(tag)
        writer.get_by_placeholder("Enter tags").press("Enter")
    writer.get_by_role("button", name="Publish Article").click()
    expect(writer.get_by_role("heading", name="Dragons of the North")).to_be_visible()
    expect(writer.locator("strong", has_text="breathe")).to_be_visible()
    expect(writer.locator(".tag-list").first).to_contain_text("dragons")
    expect(writer.locator(".tag-list").first).to_contain_text("field-guide")
    slug = re.search(r"#/article/([^/?]+)", writer.url)
    assert slug is not None and re.fullmatch(r"\d+-dragons-of-the-north", slug[1]), writer.url
    screenshot(writer, "realworld-article-desktop")

    reader = person(browser, origin, "phone")
    sign_up(reader, reader_name)
    reader.goto(f"/#/article/{slug[1]}")
    expect(reader.get_by_role("heading", name="Dragons of the North")).to_be_visible()
    reader.get_by_role("button", name="Follow").first.click()
    expect(reader.get_by_role("button", name="Unfollow").first).to_be_visible()
    reader.get_by_role("button", name="Favorite article").first.click()
    expect(reader.get_by_role("button", name="Unfavorite article").first).to_contain_text("1")
    reader.get_by_placeholder("Write a comment...").fill("Do they *migrate*?")
    reader.get_by_role("button", name="Submit").click()  # "Post Comment", labelled "Submit" for assistive tech
    expect(reader.locator(".card-text", has_text="migrate")).to_be_visible()
    screenshot(reader, "realworld-article-phone")

    reader.goto("/#/my-feeds")
    expect(reader.get_by_role("heading", name="Dragons of the North")).to_be_visible()
    screenshot(reader, "realworld-feed-phone")

    # What the browser showed is the platform's: a post of the blog, kept once, with its comment.
    post_id = slug[1].split("-")[0]
    post = httpx.get(f"{platform.url}/blog/api/posts/{post_id}").json()
    assert (post["title"], post["author"], post["favourites_count"]) == ("Dragons of the North", writer_name, 1)
    assert sorted(tag["name"] for tag in post["tags"]) == ["dragons", "field-guide"]
    comments = httpx.get(f"{platform.url}/blog/api/posts/{post_id}/comments").json()
    assert [(each["author"], each["body"]) for each in comments] == [(reader_name, "Do they *migrate*?")]
    for page in (writer, reader):
        page.context.close()
