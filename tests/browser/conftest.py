"""What every browser test shares: the platform, Debian's Chromium, pages at two sizes, and checks.

- `platform` (session): `titanium up` with its own settings, from the shared platform factory (tests/conftest.py);
  `base_url` is its gateway.
- `browser` (session): headless Chromium from /usr/bin/chromium (never a downloaded browser; a missing
  one fails the tests with how to install it).
- `open_page(viewport="desktop" | "phone", *, bypass_csp=False, path=None, javascript=True, locale="en-GB",
  color_scheme="light")`: a page in a fresh context (1280x800 or 390x844) whose browser speaks `locale` (its
  Accept-Language) and prefers `color_scheme`; its requests to any other origin are refused and recorded, and at the
  end of the test none may have been made, nor (where the CSP applies) any CSP violation reported.
  `desktop_page` and `phone_page` are the same as fixtures.
- `assert_accessible(page)` (tests/browser/axe.py, re-exported here): axe-core finds nothing serious or
  critical; needs a page opened with bypass_csp=True.
- `assert_fits_viewport(page)`: the document is no wider than the viewport.
- `screenshot(page, name)`: a full-page PNG in tests/browser/screenshots/ (git-ignored).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright, Route, expect, sync_playwright

from tests.browser.axe import assert_accessible
from tests.platform.harness import Platform, Platforms

__all__ = ["VIEWPORTS", "assert_accessible", "assert_fits_viewport", "screenshot"]

CHROMIUM = Path(os.environ.get("TITANIUM_CHROMIUM", "/usr/bin/chromium"))
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
SCREENSHOTS = Path(__file__).parent / "screenshots"
TIMEOUT_MS = 20_000
# The assertions wait as long as the actions: expect's own 5 s default was too short for Swagger UI to lay out
# every service's operations on a machine at load 12.
expect.set_options(timeout=TIMEOUT_MS)
# One browser calls from one address (127.0.0.1) for every person the tests play:
# the per-address budgets are raised so that they never get in the way.
PLATFORM_ENV = {
    "TITANIUM_RATE_LIMIT_PER_ADDRESS": "100000/minute",
    "TITANIUM_LOGIN_RATE_LIMIT_PER_ADDRESS": "10000/minute",
    "TITANIUM_LOGIN_RATE_LIMIT_PER_USERNAME_AND_ADDRESS": "1000/minute",
    "TITANIUM_LOGIN_RATE_LIMIT_PER_USERNAME": "1000/minute",
    "TITANIUM_REGISTRATION_RATE_LIMIT_PER_ADDRESS": "1000/minute",
}


@pytest.fixture(scope="package")
def platform(platforms: Platforms) -> Platform:
    """The browser tests' platform (shared by its settings: only they use these), its pages seeded by them."""
    return platforms.shared(env=PLATFORM_ENV)


@pytest.fixture(scope="package")
def base_url(platform: Platform) -> str:
    return platform.url


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"the browser tests need Chromium at {CHROMIUM}, which is missing: install it with "
            "`sudo apt-get install chromium` (Debian, Ubuntu; `make install` does it when run as root), "
            "or point TITANIUM_CHROMIUM at a Chromium binary. Never `playwright install`.",
            pytrace=False,
        )
    launched = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True,
        args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run", "--disable-extensions"],
    )
    yield launched
    launched.close()


class PageWatch:
    """What a page did that no page of ours may do: reach another origin, break its CSP."""

    def __init__(self, base_url: str, csp: bool) -> None:
        self.origin = _origin(base_url)
        self.csp = csp
        self.foreign_requests: list[str] = []
        self.csp_violations: list[str] = []

    def route(self, route: Route) -> None:
        url = route.request.url
        if url.startswith(("http:", "https:")) and _origin(url) != self.origin:
            self.foreign_requests.append(url)
            route.abort()
        else:
            route.continue_()

    def console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.csp_violations.append(message.text)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@pytest.fixture
def open_page(browser: Browser, base_url: str) -> Iterator[Callable[..., Page]]:
    opened: list[tuple[BrowserContext, PageWatch]] = []

    def open_(viewport: str = "desktop", *, bypass_csp: bool = False, path: str | None = None,
              javascript: bool = True, locale: str = "en-GB", color_scheme: str = "light") -> Page:
        context = browser.new_context(viewport=VIEWPORTS[viewport], base_url=base_url, bypass_csp=bypass_csp,
                                      java_script_enabled=javascript, locale=locale, timezone_id="UTC",
                                      reduced_motion="reduce", color_scheme=color_scheme)  # type: ignore[arg-type]
        context.set_default_timeout(TIMEOUT_MS)
        watch = PageWatch(base_url, csp=not bypass_csp)
        context.route("**/*", watch.route)
        page = context.new_page()
        page.on("console", watch.console)
        opened.append((context, watch))
        if path is not None:
            page.goto(path)
        return page

    yield open_
    problems = []
    for context, watch in opened:
        context.close()
        if watch.foreign_requests:
            problems.append(f"requests to another origin: {watch.foreign_requests}")
        if watch.csp and watch.csp_violations:
            problems.append(f"Content-Security-Policy violations: {watch.csp_violations}")
    assert not problems, "\n".join(problems)


@pytest.fixture
def desktop_page(open_page: Callable[..., Page]) -> Page:
    return open_page("desktop")


@pytest.fixture
def phone_page(open_page: Callable[..., Page]) -> Page:
    return open_page("phone")


def assert_fits_viewport(page: Page) -> None:
    """The document is no wider than the viewport: nothing makes a reader scroll sideways."""
    width, viewport = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= viewport, f"{page.url} is {width}px wide in a {viewport}px viewport"


def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG of the page as it is now, in tests/browser/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
