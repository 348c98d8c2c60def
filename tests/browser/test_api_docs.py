"""The platform's API document in Swagger UI (GET /api/docs): it renders from the platform's own files
under the page's Content-Security-Policy (conftest's PageWatch fails on any violation or foreign request),
shows every service's public operations, opens one from the keyboard, fits the screen, and axe finds
nothing serious."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import assert_accessible, assert_fits_viewport, screenshot

OpenPage = Callable[..., Page]


def open_docs(open_page: OpenPage, viewport: str, **options) -> Page:
    page = open_page(viewport, path="/api/docs", **options)
    expect(page.locator(".opblock").first).to_be_visible()
    return page


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_api_docs_render_every_services_operations_under_the_pages_csp(open_page: OpenPage, viewport: str):
    page = open_docs(open_page, viewport)
    expect(page.get_by_role("heading", name="Titanium API")).to_be_visible()
    for path in ("/api/login", "/api/users/{username}", "/blog/api/posts", "/blog/api/posts/{post_id}"):
        expect(page.locator(f".opblock-summary-path[data-path='{path}']").first).to_be_visible()
    assert page.locator(".opblock-summary-path[data-path^='/internal']").count() == 0
    expect(page.get_by_role("button", name="Authorize")).to_be_visible()
    assert_fits_viewport(page)
    screenshot(page, f"api-docs-{viewport}")


def test_an_operation_opens_from_the_keyboard_with_its_answers(open_page: OpenPage):
    page = open_docs(open_page, "desktop")
    summary = page.locator("#operations-posts-create_post_blog_api_posts_post .opblock-summary-control")
    if summary.count() == 0:  # the id follows the operation's; find it by its path instead
        summary = page.locator(".opblock-post:has(.opblock-summary-path[data-path='/blog/api/posts']) "
                               ".opblock-summary-control").first
    summary.focus()
    page.keyboard.press("Enter")
    opened = page.locator(".opblock-post.is-open").first
    expect(opened).to_be_visible()
    for status in ("201", "401", "422", "429"):
        expect(opened.locator(f"tr.response[data-code='{status}']")).to_have_count(1)
    screenshot(page, "api-docs-operation-open")


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_api_docs_are_accessible(open_page: OpenPage, viewport: str):
    page = open_docs(open_page, viewport, bypass_csp=True)  # axe is injected: the page's own CSP would refuse it
    assert_accessible(page)
