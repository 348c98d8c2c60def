"""Writing in a real browser (writing.js): drafts saved by themselves, preview, publish, schedule, images.

At desktop (1280x800) and phone (390x844) sizes, with the keyboard where a
writer would use it, axe clean; screenshots in tests/browser/screenshots/.
"""

from __future__ import annotations

import base64
import io
import re
from datetime import datetime, timedelta

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.browser.conftest import assert_accessible, assert_fits_viewport, screenshot
from tests.browser.test_blog import OpenPage, fill_post, sign_in_with_storage, signed_up, untranslated_words
from tests.platform.harness import Client, Platform

VIEWPORT_NAMES = ["desktop", "phone"]
DRAFT_TEXT = "# Plan\n\nSome **bold** words.\n\n```python\nprint('hello')\n```\n"


@pytest.fixture
def writer(platform: Platform) -> Client:
    return signed_up(platform)


def _public_titles(platform: Platform) -> list[str]:
    with httpx.Client(base_url=platform.url, timeout=15) as client:
        return [post["title"] for post in client.get("/blog/api/posts", params={"limit": 100}).json()]


def _png(width: int, height: int, color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def _press_until_focused(page: Page, element_id: str, key: str = "Tab", most: int = 40) -> None:
    for _ in range(most):
        if page.evaluate("() => document.activeElement && document.activeElement.id") == element_id:
            return
        page.keyboard.press(key)
    raise AssertionError(f"#{element_id} is not reachable with {key}")


@pytest.mark.parametrize("viewport", VIEWPORT_NAMES)
def test_a_writer_drafts_previews_and_publishes(open_page: OpenPage, platform: Platform, writer: Client,
                                                viewport: str) -> None:
    page = open_page(viewport, bypass_csp=True)  # axe is injected below
    sign_in_with_storage(page, writer)
    page.goto("/blog/write")
    title = f"Half-written {viewport}"
    fill_post(page, title, "Plans", DRAFT_TEXT)
    # Left alone a moment, the text saves itself as a draft, which nobody else sees.
    expect(page.locator("#autosave")).to_contain_text("Draft saved at")
    page.wait_for_url(re.compile(r"/blog/write\?draft=\d+$"))
    draft_id = int(page.url.rsplit("=", 1)[1])
    assert title not in _public_titles(platform)
    with httpx.Client(base_url=platform.url, timeout=15) as client:
        assert client.get(f"/blog/api/posts/{draft_id}").status_code == 404

    # The preview, with the keyboard: rendered by the server as the post will show it.
    _press_until_focused(page, "preview-post")
    page.keyboard.press("Enter")
    preview = page.locator("#preview-content")
    expect(preview.locator("h2")).to_have_text("Plan")
    expect(preview.locator("strong")).to_have_text("bold")
    assert page.evaluate("() => document.activeElement.id") == "preview-title"
    assert_accessible(page)
    assert_fits_viewport(page)
    screenshot(page, f"write-preview-{viewport}")

    # Saved by the button too; the draft is listed on the writer's own page, for them alone.
    page.fill("#post-content", DRAFT_TEXT + "\nOne more line.\n")
    page.click("#save-draft")
    expect(page.locator("#autosave")).to_contain_text("Draft saved at")
    writer.create_post(title=f"Public one {viewport}")  # the writer's page exists once they have a public post
    page.goto(f"/blog/authors/{writer.username}")
    drafts = page.locator(".my-drafts")
    expect(drafts).to_contain_text("Your drafts and scheduled posts")
    assert_accessible(page)
    assert_fits_viewport(page)
    screenshot(page, f"author-drafts-{viewport}")
    drafts.get_by_role("link", name=title).click()
    page.wait_for_url(f"**/blog/write?draft={draft_id}")
    expect(page.locator("#post-title")).to_have_value(title)
    assert page.input_value("#post-content").endswith("One more line.\n")

    # Published: the same post, now public.
    page.click("#submit")
    page.wait_for_url(re.compile(rf"/blog/posts/{draft_id}-half-written-{viewport}$"))
    expect(page.locator("#flash")).to_have_text("Your post is published.")
    assert title in _public_titles(platform)


def test_a_scheduled_post_is_listed_for_its_writer(open_page: OpenPage, platform: Platform, writer: Client) -> None:
    page = open_page("desktop")
    sign_in_with_storage(page, writer)
    writer.create_post(title="Already out")
    page.goto("/blog/write")
    fill_post(page, "Tomorrow's news", "Plans", "Not yet.")
    page.fill("#post-publish-at", (datetime.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    page.click("#schedule-post")
    page.wait_for_url(f"**/blog/authors/{writer.username}")
    expect(page.locator("#flash")).to_contain_text("Your post will be published on")
    expect(page.locator(".my-drafts")).to_contain_text("Tomorrow's news")
    expect(page.locator(".my-drafts")).to_contain_text("Scheduled for")
    assert "Tomorrow's news" not in _public_titles(platform)
    screenshot(page, "scheduled")


def test_a_published_post_is_unpublished_from_its_edit_page(open_page: OpenPage, platform: Platform,
                                                            writer: Client) -> None:
    post = writer.create_post(title="Second thoughts", content="Said too soon.").json()
    page = open_page("phone")
    sign_in_with_storage(page, writer)
    page.goto(f"/blog/posts/{post['id']}/edit")
    expect(page.locator("#save-draft")).to_be_hidden()
    page.click("#unpublish-post")
    expect(page.locator("#autosave")).to_have_text("The post is a draft again: only you can see it.")
    page.wait_for_url(f"**/blog/write?draft={post['id']}")
    expect(page.locator("#save-draft")).to_be_visible()
    expect(page.locator("#unpublish-post")).to_be_hidden()
    assert "Second thoughts" not in _public_titles(platform)
    page.reload()  # the draft comes back from the server
    expect(page.locator("#post-title")).to_have_value("Second thoughts")
    screenshot(page, "unpublished")


def test_a_past_time_is_not_scheduled(open_page: OpenPage, writer: Client) -> None:
    page = open_page("phone")
    sign_in_with_storage(page, writer)
    page.goto("/blog/write")
    fill_post(page, "Too late", "Plans", "Yesterday.")
    page.fill("#post-publish-at", (datetime.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    page.click("#schedule-post")
    expect(page.locator("#form-errors")).to_have_text("Please choose a time in the future to publish the post at.")


@pytest.mark.parametrize("viewport", VIEWPORT_NAMES)
def test_an_uploaded_image_shows_on_the_post_and_in_the_feed(open_page: OpenPage, platform: Platform, writer: Client,
                                                             viewport: str) -> None:
    page = open_page(viewport)  # the pages' own Content-Security-Policy applies: the image must pass it
    sign_in_with_storage(page, writer)
    page.goto("/blog/write")
    title = f"Pictured {viewport}"
    fill_post(page, title, "Photos", "Before the picture.")
    page.set_input_files("#image-file", files=[{"name": "blue-sky.png", "mimeType": "image/png",
                                                "buffer": _png(2400, 1200, (40, 110, 220))}])
    expect(page.locator("#upload-status")).to_contain_text("The image is in the text")
    content = page.input_value("#post-content")
    found = re.search(r"!\[blue sky\]\((/blog/media/[0-9a-f]{64}-1600x800\.webp)\)", content)
    assert found, content
    # Dropped on the text, another one goes in where the caret is.
    dropped = base64.b64encode(_png(300, 200, (200, 60, 40))).decode()
    page.evaluate("""(data) => {
        const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], "red_square.png", { type: "image/png" }));
        const text = document.getElementById("post-content");
        text.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }""", dropped)
    expect(page.locator("#post-content")).to_have_value(re.compile(r"!\[red square\]\(/blog/media/[0-9a-f]{64}-300x200\.webp\)"))
    screenshot(page, f"write-image-{viewport}")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/blog/posts/\d+-pictured-"))
    image = page.locator(".content img").first
    expect(image).to_have_attribute("src", found[1])
    assert (image.get_attribute("width"), image.get_attribute("height"), image.get_attribute("loading")) == \
        ("1600", "800", "lazy")
    assert image.get_attribute("alt") == "blue sky"
    image.scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector('.content img').naturalWidth === 1600")
    assert_fits_viewport(page)
    screenshot(page, f"post-with-image-{viewport}")
    with httpx.Client(base_url=platform.url, timeout=15) as client:
        feed = client.get("/blog/feed.xml").text
    # The entry's HTML names the upload by its path; xml:base makes it the blog's for a feed reader.
    assert found[1] in feed and f'xml:base="{platform.url}/"' in feed


def test_what_is_not_an_image_is_refused_in_words(open_page: OpenPage, writer: Client) -> None:
    page = open_page("desktop")
    sign_in_with_storage(page, writer)
    page.goto("/blog/write")
    expect(page.locator("#post-form")).to_be_visible()
    page.set_input_files("#image-file", files=[{"name": "holiday.png", "mimeType": "image/png",
                                                "buffer": b"this is text wearing an image's name"}])
    expect(page.locator("#upload-status")).to_have_text(
        "This file is not an image the blog takes. Please send a JPEG, PNG, GIF or WebP.")
    assert page.input_value("#post-content") == ""


def test_the_write_page_in_korean(open_page: OpenPage, writer: Client) -> None:
    page = open_page("phone", locale="ko-KR", bypass_csp=True)
    sign_in_with_storage(page, writer)
    page.goto("/blog/write")
    expect(page.locator("#post-form")).to_be_visible()
    for button, words in (("#save-draft", "임시 저장"), ("#preview-post", "미리 보기"), ("#schedule-post", "예약"),
                          ("#submit", "발행"), ("#add-image", "이미지 추가")):
        expect(page.locator(button)).to_have_text(words)
    fill_post(page, "한국어 임시 글", "메모", "자동 저장을 기다립니다.")
    expect(page.locator("#autosave")).to_contain_text("임시 저장했습니다")
    assert untranslated_words(page) == set()
    assert_accessible(page)
    assert_fits_viewport(page)
    screenshot(page, "write-korean")


@pytest.mark.parametrize(("scheme", "background"), [("light", "rgb(248, 248, 248)"), ("dark", "rgb(13, 17, 23)")])
def test_code_is_highlighted_in_the_readers_theme(open_page: OpenPage, writer: Client, scheme: str, background: str) -> None:
    post = writer.create_post(title="Highlighted", content="```python\ndef answer():\n    return 42\n```\n").json()
    page = open_page("desktop", color_scheme=scheme, bypass_csp=True)
    page.goto(f"/blog/posts/{post['id']}")
    expect(page.locator(".content pre code.language-python .k").first).to_have_text("def")
    assert page.evaluate("() => getComputedStyle(document.querySelector('.content pre')).backgroundColor") == background
    assert_accessible(page)
    screenshot(page, f"code-{scheme}")
