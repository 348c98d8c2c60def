"""Tagging a post from the write and edit pages (writing.js), in Chromium at 1280x800 and 390x844.

A writer types two tags with the keyboard; the draft saved by itself already
has them; published, the post shows them and each tag's page lists it; the
edit page shows them and removing one takes the post off that tag's page. A
tag the blog refuses is explained in words beside the field; a scheduled post
keeps its tags. Axe clean.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import assert_accessible, assert_fits_viewport, screenshot
from tests.browser.test_blog import fill_post, sign_in_with_storage, signed_up
from tests.browser.test_blog_writing import _press_until_focused
from tests.browser.test_community import word
from tests.platform.harness import Client, Platform

OpenPage = Callable[..., Page]


def _draft_tags(writer: Client, draft_id: int) -> list[str]:
    answer = writer.http.get(f"/blog/api/me/posts/{draft_id}", headers=writer.auth)
    assert answer.status_code == 200, answer.text
    return [tag["name"] for tag in answer.json()["tags"]]


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_a_writer_tags_a_post_on_the_write_page_and_untags_it_on_the_edit_page(open_page: OpenPage, platform: Platform,
                                                                               viewport: str) -> None:
    writer = signed_up(platform)
    first, second = f"Alpha {word()}", f"Beta {word()}"
    page = open_page(viewport, bypass_csp=True)  # axe is injected below
    sign_in_with_storage(page, writer)
    page.goto("/blog/write")
    title = f"Tagged from the page {viewport}"
    expect(page.locator("#post-form")).to_be_visible()
    # With the keyboard, from the category to the tags field (its label and hint name it).
    page.focus("#post-category")
    _press_until_focused(page, "post-tags")
    tags = page.get_by_label("Tags (optional)")
    expect(tags).to_be_focused()
    page.keyboard.type(f"{first}, {second}, ")
    # The rest after the tags, so that the first draft saved by itself is the one to look at: it carries them.
    fill_post(page, title, "Plans", "Two tags, typed.")
    expect(page.locator("#autosave")).to_contain_text("Draft saved at")
    page.wait_for_url(re.compile(r"/blog/write\?draft=\d+$"))
    draft_id = int(page.url.rsplit("=", 1)[1])
    assert _draft_tags(writer, draft_id) == [first, second]
    page.reload()  # the draft read back from its address shows its tags
    expect(tags).to_have_value(f"{first}, {second}")
    assert_accessible(page)
    assert_fits_viewport(page)
    screenshot(page, f"write-tags-{viewport}")

    _press_until_focused(page, "submit")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/blog/posts/{draft_id}-"))
    on_post = page.locator(".post-full .tags")
    expect(on_post.get_by_role("link")).to_have_text([f"#{first}", f"#{second}"])
    on_post.get_by_role("link", name=f"#{second}").click()
    expect(page.locator("h1")).to_have_text(f"Posts tagged {second}")
    expect(page.get_by_role("link", name=title)).to_be_visible()
    second_page = page.url

    # Edit: the field shows the post's tags; the second one removed.
    page.goto(f"/blog/posts/{draft_id}/edit")
    expect(tags).to_have_value(f"{first}, {second}")
    tags.fill(first)
    page.click("#submit")
    page.wait_for_url(re.compile(rf"/blog/posts/{draft_id}-"))
    expect(page.locator("#flash")).to_have_text("Your changes are saved.")
    expect(page.locator(".post-full .tags").get_by_role("link")).to_have_text([f"#{first}"])
    page.get_by_role("link", name=f"#{first}").click()
    expect(page.get_by_role("link", name=title)).to_be_visible()
    assert page.request.get(second_page).status == 404, "its only post untagged, the tag has no page"


def test_a_refused_tag_is_explained_beside_the_field(open_page: OpenPage, platform: Platform) -> None:
    writer = signed_up(platform)
    page = open_page("phone", bypass_csp=True)
    sign_in_with_storage(page, writer)
    page.goto("/blog/write")
    fill_post(page, "Badly tagged", "Plans", "Tags the blog cannot take.")
    tags = page.locator("#post-tags")
    error = page.locator("#post-tags-error")

    # Refused by the server (no letter or digit: no address): its 422 in words, beside the field.
    tags.fill("Fine, ?!")
    page.click("#save-draft")
    expect(error).to_have_text("Each tag needs a letter or a digit, also on each side of a “/”.")
    expect(tags).to_have_attribute("aria-invalid", "true")
    expect(tags).to_be_focused()
    assert_accessible(page)
    screenshot(page, "write-tag-refused-phone")

    # Too many: said before anything is sent.
    tags.fill(", ".join(f"t{number}" for number in range(11)))
    page.click("#submit")
    expect(error).to_have_text("A post may have at most 10 tags.")

    # Mended: the message goes, the post is published with its tag.
    tags.fill("Fine")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/blog/posts/\d+-badly-tagged$"))
    expect(page.locator(".post-full .tags").get_by_role("link")).to_have_text(["#Fine"])


def test_a_scheduled_post_keeps_its_tags(open_page: OpenPage, platform: Platform) -> None:
    writer = signed_up(platform)
    writer.create_post(title="Already out")  # the writer's page, where scheduling leads, exists
    page = open_page("desktop")
    sign_in_with_storage(page, writer)
    page.goto("/blog/write")
    fill_post(page, "Tagged for tomorrow", "Plans", "Not yet.")
    page.fill("#post-tags", "Later, 나중")
    page.fill("#post-publish-at", (datetime.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    page.click("#schedule-post")
    page.wait_for_url(f"**/blog/authors/{writer.username}")
    scheduled = writer.http.get("/blog/api/me/scheduled", headers=writer.auth).json()["posts"]
    assert [(post["title"], [tag["name"] for tag in post["tags"]]) for post in scheduled] == [
        ("Tagged for tomorrow", ["Later", "나중"])]
