"""The status dashboard in a real browser: live golden signals, honest about what it does not know.

The page shows every service with its status (word and icon), its figures
and its golden signals with 15-minute charts; the rates move with traffic;
a frozen service shows offline and its signals stale, then comes back; when
/stats cannot be fetched the cards say "unknown" and a message says why;
no process id or internal address is shown; axe finds nothing serious and
nothing is wider than the screen, at desktop and phone sizes. Every test
leaves a screenshot in tests/browser/screenshots/.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import assert_accessible, assert_fits_viewport, screenshot
from tests.platform.harness import Client, Platform
from titanium.core.registry import SERVICE_NAMES

SERVICES = SERVICE_NAMES  # the registry's, in its order
SIGNALS = ("rps", "errors", "latency", "inflight", "cpu", "rss")
# The page asks every 5 s and the dashboard scrapes every 5 s; a service frozen
# takes the dashboard's upstream timeout to show. Generous, never asserted on.
WAIT_MS = 45_000

OpenPage = Callable[..., Page]


def card(page: Page, service: str):
    return page.locator(f"article.card[data-service='{service}']")


def open_dashboard(open_page: OpenPage, viewport: str = "desktop", **options) -> Page:
    page = open_page(viewport, **options)
    page.goto("/")
    expect(page.locator("article.card")).to_have_count(len(SERVICES), timeout=WAIT_MS)
    return page


def shown_rate(page: Page, service: str) -> float:
    text = card(page, service).locator("[data-signal='rps'] .signal-value").inner_text()
    match = re.match(r"([\d.,]+)/s", text)
    return float(match.group(1).replace(",", "")) if match else 0.0


def wait_for_signals(page: Page) -> None:
    """Until every card has charts with at least one line (two scrapes of each service)."""
    page.wait_for_function(
        "(names) => names.every((name) => document.querySelector("
        "`article.card[data-service='${name}'] [data-signal='cpu'] svg path`))",
        arg=list(SERVICES), timeout=WAIT_MS)


def test_the_request_rates_move_with_traffic_and_nothing_internal_is_shown(open_page: OpenPage, platform: Platform):
    page = open_dashboard(open_page)
    person = Client(platform.url)
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        for _ in range(40):  # 200 requests at least, before the first look
            assert person.http.get("/blog/api/posts").status_code == 200
        page.wait_for_timeout(1000)
        if shown_rate(page, "blog") > 0 and shown_rate(page, "gateway") > 0:
            break
        assert time.monotonic() < deadline, "the blog's and gateway's request rates never rose above 0 on the page"
    blog = card(page, "blog")
    expect(blog.locator(".badge")).to_have_text(re.compile("online", re.I))
    expect(blog.locator("[data-signal='latency'] .signal-value")).to_have_text(re.compile(r"P50 [\d.]+ m?s"))
    for name in SIGNALS:
        chart = blog.locator(f"[data-signal='{name}'] svg.chart")
        expect(chart).to_have_attribute("role", "img")
        expect(chart).to_have_attribute("aria-label", re.compile(r"over the last \d+ (minutes|seconds)"))
    text = page.locator("main").inner_text()
    assert not re.search(r"\bpid\b", text), "no process id on the public page"
    assert "127.0.0.1:" not in text and "upstreams" not in text, "no internal address on the public page"
    # The page's own fetch of /stats carries none either.
    stats = page.evaluate("async () => (await fetch('/stats')).json()")
    assert all("pid" not in entry for entry in stats.values()) and "upstreams" not in stats["gateway"]
    screenshot(page, "dashboard-traffic-desktop")


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_dashboard_is_accessible_and_fits_the_screen(open_page: OpenPage, viewport: str):
    page = open_dashboard(open_page, viewport, bypass_csp=True)
    wait_for_signals(page)
    expect(page.locator("h1")).to_have_count(1)
    for service in SERVICES:  # status in words, not colour alone
        expect(card(page, service).locator(".badge")).to_have_text(re.compile(r"online|degraded|offline", re.I))
    charts = page.locator("svg.chart")
    assert charts.count() == len(SERVICES) * len(SIGNALS)
    labels = charts.evaluate_all("(nodes) => nodes.map((node) => node.getAttribute('aria-label') || '')")
    assert all(len(label) > 20 for label in labels), labels
    assert_accessible(page)
    assert_fits_viewport(page)
    screenshot(page, f"dashboard-{viewport}")


def test_the_page_can_be_used_from_the_keyboard(open_page: OpenPage):
    page = open_dashboard(open_page)
    reached = []
    for _ in range(6):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("() => document.activeElement.id || document.activeElement.textContent"))
    assert reached[:4] == ["Blog", "/stats", "/metrics", "pause"], reached
    pause = page.locator("#pause")
    pause.focus()
    page.keyboard.press("Enter")
    expect(pause).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#updated")).to_contain_text("paused")
    page.keyboard.press("Space")
    expect(pause).to_have_attribute("aria-pressed", "false")


def test_a_frozen_service_shows_offline_and_stale_then_comes_back(open_page: OpenPage, platform: Platform):
    page = open_dashboard(open_page)
    blog = card(page, "blog")
    expect(blog).to_have_attribute("data-status", "online", timeout=WAIT_MS)
    pid = platform.pid_of("blog")
    os.kill(pid, signal.SIGSTOP)
    try:
        expect(blog).to_have_attribute("data-status", "offline", timeout=WAIT_MS)
        expect(blog.locator(".badge")).to_have_text(re.compile("offline", re.I))
        expect(blog).to_have_attribute("data-stale", "true", timeout=WAIT_MS)
        expect(blog.locator(".stale-note")).to_contain_text("Signals stale: last read at")
        expect(page.locator("#summary")).to_contain_text("blog offline")
        expect(card(page, "gateway")).to_have_attribute("data-status", "online")
        screenshot(page, "dashboard-blog-frozen")
    finally:
        os.kill(pid, signal.SIGCONT)
    expect(blog).to_have_attribute("data-status", "online", timeout=WAIT_MS)
    expect(blog).to_have_attribute("data-stale", "false", timeout=WAIT_MS)
    expect(blog.locator(".stale-note")).to_have_count(0)


@pytest.mark.parametrize("failure", ["unreachable", "502"])
def test_when_stats_cannot_be_fetched_the_cards_say_unknown_not_online(open_page: OpenPage, failure: str):
    page = open_dashboard(open_page)
    expect(page.locator("article.card[data-status='online']")).to_have_count(len(SERVICES), timeout=WAIT_MS)

    def broken(route: Route) -> None:
        if failure == "unreachable":
            route.abort("connectionrefused")
        else:
            route.fulfill(status=502, content_type="application/json", body='{"detail": "bad gateway"}')

    page.route("**/stats", broken)
    problem = page.locator("#problem")
    expect(problem).to_be_visible(timeout=WAIT_MS)
    expect(problem).to_contain_text("could not be fetched")
    expect(page.locator("article.card[data-status='unknown']")).to_have_count(len(SERVICES))
    expect(page.locator("article.card[data-status='online']")).to_have_count(0)
    for service in SERVICES:
        expect(card(page, service).locator(".badge")).to_have_text(re.compile("unknown", re.I))
        expect(card(page, service)).to_have_attribute("data-stale", "true")
    expect(page.locator("#summary")).to_contain_text("Status unknown")
    screenshot(page, f"dashboard-stats-{failure}")

    page.unroute("**/stats")
    expect(problem).to_be_hidden(timeout=WAIT_MS)
    expect(page.locator("article.card[data-status='unknown']")).to_have_count(0)

