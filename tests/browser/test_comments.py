"""A post's comments in Chromium, at desktop and phone sizes: read without JavaScript, written and deleted
with it (with the keyboard), nothing a commenter types runs, axe finds nothing serious."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import VIEWPORTS, assert_accessible, assert_fits_viewport, screenshot
from tests.browser.test_blog import PAYLOAD_IMG, PAYLOAD_LINK, PAYLOAD_SCRIPT, signed_up, watch_dialogs
from tests.platform.harness import Client, Platform

VIEWPORT_NAMES = list(VIEWPORTS)


def sign_in(page: Page, person: Client) -> None:
    page.goto("/blog/")
    page.evaluate("([token, username]) => { sessionStorage.setItem('titanium.token', token);"
                  " sessionStorage.setItem('titanium.username', username); }", [person.token, person.username])


def comment(person: Client, post_id: int, body: str) -> dict:
    answer = person.http.post(f"/blog/api/posts/{post_id}/comments", json={"body": body}, headers=person.auth)
    assert answer.status_code == 201, answer.text
    return answer.json()


@pytest.mark.parametrize("viewport", VIEWPORT_NAMES)
def test_a_reader_writes_a_comment_with_the_keyboard_and_it_shows_last(open_page, platform: Platform,
                                                                        viewport: str) -> None:
    writer, reader = signed_up(platform), signed_up(platform)
    post = writer.create_post(title="Comment on me", content="Say something.").json()
    comment(writer, post["id"], "First, from the author.")
    payload = f"{PAYLOAD_SCRIPT} {PAYLOAD_IMG} [click]({PAYLOAD_LINK}) and **bold**"
    seen_dialogs: list[str] = []
    page = open_page(viewport, bypass_csp=True)  # axe below
    watch_dialogs(page, seen_dialogs)
    sign_in(page, reader)
    page.goto(f"/blog/posts/{post['id']}")
    expect(page.locator("#comments-title")).to_have_text("1 comment")
    expect(page.locator("#comment-login")).to_be_hidden()
    page.locator("#comment-body").focus()
    page.keyboard.type(payload)
    page.keyboard.press("Tab")
    expect(page.locator("#comment-submit")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#comments-title")).to_have_text("2 comments")
    bodies = page.locator(".comment-body")
    expect(bodies).to_have_count(2)
    expect(bodies.nth(0)).to_have_text("First, from the author.")
    expect(bodies.nth(1)).to_contain_text(f"{PAYLOAD_SCRIPT} {PAYLOAD_IMG} [click]({PAYLOAD_LINK}) and bold")
    expect(page.locator(".comment").nth(1)).to_be_focused()  # the page came back at the new comment
    assert page.locator(".comment-body strong").inner_text() == "bold"
    assert page.evaluate("() => typeof window.__x") == "undefined"
    assert page.locator("#comments script, #comments [onerror], #comments img").count() == 0
    assert page.locator('#comments a[href^="javascript:" i]').count() == 0
    assert seen_dialogs == []
    # Their own comment has a delete button; the author's does not.
    expect(page.locator(".comment").nth(1).get_by_role("button", name="Delete comment")).to_be_visible()
    assert page.locator(".comment").nth(0).get_by_role("button").count() == 0
    assert_accessible(page)
    assert_fits_viewport(page)
    screenshot(page, f"comments-{viewport}")


def test_the_post_author_deletes_a_readers_comment_and_a_stranger_cannot(open_page, platform: Platform) -> None:
    writer, reader, stranger = signed_up(platform), signed_up(platform), signed_up(platform)
    post = writer.create_post(title="Moderated", content="Be nice.").json()
    comment(reader, post["id"], "Something rude")
    page = open_page("desktop")
    sign_in(page, stranger)
    page.goto(f"/blog/posts/{post['id']}")
    expect(page.locator("#comment-form")).to_be_visible()
    assert page.get_by_role("button", name="Delete comment").count() == 0

    seen_dialogs: list[str] = []
    author_page = open_page("phone")
    watch_dialogs(author_page, seen_dialogs, accept=True)
    sign_in(author_page, writer)
    author_page.goto(f"/blog/posts/{post['id']}")
    author_page.get_by_role("button", name="Delete comment").click()
    expect(author_page.locator("#no-comments")).to_have_text("No comments yet.")
    expect(author_page.locator("#comments-title")).to_have_text("0 comments")
    assert seen_dialogs == ["Delete this comment? This cannot be undone."]


def test_comments_read_without_javascript(open_page, platform: Platform) -> None:
    writer = signed_up(platform)
    post = writer.create_post(title="Plain reading", content="No script needed.").json()
    comment(writer, post["id"], "Visible *anyway*")
    page = open_page("phone", javascript=False, path=f"/blog/posts/{post['id']}")
    expect(page.locator("#comments-title")).to_have_text("1 comment")
    expect(page.locator(".comment-body em")).to_have_text("anyway")
    expect(page.locator("#comment-form")).to_be_hidden()
    expect(page.get_by_role("link", name="Log in to comment")).to_be_visible()
    assert_fits_viewport(page)
