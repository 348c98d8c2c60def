"""The community's pages in a real browser (issue 18), at desktop (1280x800) and phone (390x844) sizes.

A reader searches from the box on every page and pages through ranked,
highlighted results; opens a tag's page and its feed; keeps a post with the
favourite button (the count follows); follows an author from their page and
finds their posts in "Your feed". With the keyboard alone where a person
would; axe finds nothing serious; nothing is wider than the screen; a
script payload in a title shows as text in the results.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import assert_accessible, assert_fits_viewport, screenshot
from tests.browser.test_blog import (
    KOREAN,
    PAYLOAD_SCRIPT,
    parse_xml,
    sign_in_with_storage,
    signed_up,
    untranslated_words,
)
from tests.platform.harness import Client, Platform

OpenPage = Callable[..., Page]
ATOM = "{http://www.w3.org/2005/Atom}"


def word() -> str:
    """A word no other post has (letters only: both engines index it as it is)."""
    return "zq" + "".join(chr(ord("a") + int(digit, 16) % 26) for digit in uuid.uuid4().hex[:10])


def created(person: Client, **fields) -> dict:
    answer = person.create_post(**fields)
    assert answer.status_code == 201, answer.text
    return answer.json()


def check_page(page: Page, name: str) -> None:
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").count() == 1
    screenshot(page, name)
    assert_fits_viewport(page)
    assert_accessible(page)


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_a_reader_searches_from_any_page_and_pages_through_marked_results(open_page: OpenPage, platform: Platform,
                                                                          viewport: str) -> None:
    writer = signed_up(platform)
    term = word()
    created(writer, title=f"{PAYLOAD_SCRIPT} {term} in the title", content=f"And {term} in the text too.")
    for number in range(11):
        created(writer, title=f"Mention {number:02d}", content=f"Only the text says {term}, once.")
    page = open_page(viewport, bypass_csp=True, path="/blog/")
    box = page.get_by_role("searchbox", name="Search the posts").first
    box.focus()
    page.keyboard.type(term)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/blog/search?q={term}")
    expect(page.locator("h1")).to_contain_text(term)
    results = page.locator(".search-results > li")
    expect(results).to_have_count(10)
    first = results.first
    expect(first.locator("h2")).to_have_text(f"{PAYLOAD_SCRIPT} {term} in the title")  # as text, ranked first
    expect(first.locator("h2 mark")).to_have_text(term)
    expect(results.nth(1).locator(".snippet mark")).to_have_text(term)
    assert page.evaluate("() => window.__x === undefined"), "the payload in the title ran"
    check_page(page, f"search-{viewport}")
    page.get_by_role("link", name="More results →").click()
    expect(page.locator(".search-results > li")).to_have_count(2)
    page.get_by_role("link", name="← First page").click()
    expect(page.locator(".search-results > li")).to_have_count(10)
    page.goto("/blog/search?q=" + "x" * 201)
    expect(page.locator("[role=alert]")).to_contain_text("too long")
    page.goto(f"/blog/search?q=nothing{word()}")
    expect(page.locator(".empty")).to_be_visible()


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_a_reader_finds_tags_on_posts_lists_and_their_own_pages_and_feeds(open_page: OpenPage, platform: Platform,
                                                                         viewport: str) -> None:
    writer = signed_up(platform)
    tag = word()
    for number in range(12):
        created(writer, title=f"Tagged {number:02d}", tags=[tag, "Shared tag"])
    page = open_page(viewport, bypass_csp=True, path="/blog/")
    popular = page.get_by_role("navigation", name="Popular tags")
    expect(popular.get_by_role("link", name="#Shared tag")).to_be_visible()
    card = page.locator(".post-card", has_text="Tagged 11")
    expect(card.get_by_role("link", name=f"#{tag}")).to_be_visible()
    card.get_by_role("link", name=f"#{tag}").click()
    page.wait_for_url(f"**/blog/tags/{tag}")
    expect(page.locator("h1")).to_have_text(f"Posts tagged {tag}")
    expect(page.locator(".post-list > li")).to_have_count(10)
    check_page(page, f"tag-{viewport}")
    page.get_by_role("link", name="Older posts →").click()
    expect(page.locator(".post-list > li")).to_have_count(2)
    page.get_by_role("link", name="Tagged 00").click()
    expect(page.locator(".post-full .tags").get_by_role("link", name=f"#{tag}")).to_be_visible()
    feed = page.request.get(f"/blog/tags/{tag}/feed.xml")
    assert feed.ok and feed.headers["content-type"].startswith("application/atom+xml")
    titles = [entry.find(f"{ATOM}title").text for entry in parse_xml(feed.body()).findall(f"{ATOM}entry")]
    assert titles == [f"Tagged {number:02d}" for number in range(11, -1, -1)]
    assert page.request.get(f"/blog/tags/{word()}").status == 404


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_a_reader_keeps_a_post_with_the_keyboard_and_the_count_follows(open_page: OpenPage, platform: Platform,
                                                                        viewport: str) -> None:
    writer, reader = signed_up(platform), signed_up(platform)
    post = created(writer, title=f"Worth keeping {word()}")
    page = open_page(viewport, bypass_csp=True, path=f"/blog/posts/{post['id']}")
    expect(page.locator("#favourites-count")).to_have_text("0 favourites")
    expect(page.locator("#favourite-button")).to_be_hidden()  # logged out: the count alone
    sign_in_with_storage(page, reader)
    page.reload()
    button = page.get_by_role("button", name="Keep this post")
    expect(button).to_have_attribute("aria-pressed", "false")
    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#favourite-button")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#favourites-count")).to_have_text("1 favourite")
    check_page(page, f"favourite-{viewport}")
    page.reload()
    expect(page.locator("#favourites-count")).to_have_text("1 favourite")
    expect(page.locator("#favourite-button")).to_have_text("Kept")
    page.locator("#favourite-button").press("Space")
    expect(page.locator("#favourites-count")).to_have_text("0 favourites")


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_a_reader_follows_an_author_and_reads_their_posts_in_your_feed(open_page: OpenPage, platform: Platform,
                                                                        viewport: str) -> None:
    author, other, reader = signed_up(platform), signed_up(platform), signed_up(platform)
    bio = f"Writes about rivers. {PAYLOAD_SCRIPT}"
    assert author.http.patch("/api/users/me", headers=author.auth, json={"bio": bio}).status_code == 200
    for number in range(12):
        created(author, title=f"From the followed {number:02d}")
    created(other, title="From someone else")
    page = open_page(viewport, bypass_csp=True, path="/blog/your-feed")
    expect(page.locator("#your-feed-login")).to_be_visible()
    sign_in_with_storage(page, reader)
    page.goto(f"/blog/authors/{author.username}")
    expect(page.locator(".bio")).to_have_text(bio)
    follow = page.get_by_role("button", name="Follow")
    expect(follow).to_have_attribute("aria-pressed", "false")
    follow.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#follow-author")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#follow-author")).to_have_text("Following")
    check_page(page, f"author-{viewport}")
    page.get_by_role("link", name="Your feed").first.click()
    page.wait_for_url("**/blog/your-feed")
    cards = page.locator("#your-feed-posts > li")
    expect(cards).to_have_count(10)
    expect(cards.first.locator("h2")).to_have_text("From the followed 11")
    expect(page.locator("#your-feed-posts")).not_to_contain_text("From someone else")
    check_page(page, f"your-feed-{viewport}")
    page.get_by_role("button", name="Older posts →").click()
    expect(cards).to_have_count(12)
    expect(page.locator("#your-feed-more")).to_be_hidden()
    expect(page.locator(":focus")).to_have_text("From the followed 01")


def test_the_community_pages_speak_korean(open_page: OpenPage, platform: Platform) -> None:
    writer, reader = signed_up(platform), signed_up(platform)
    term, tag = word(), word()
    post = created(writer, title=f"검색 {term}", content=f"{term} 블로그를 검색합니다.", tags=[tag])
    page = open_page("phone", locale=KOREAN, bypass_csp=True)
    sign_in_with_storage(page, reader)
    page.goto(f"/blog/search?q={term}")
    expect(page.locator("h1")).to_have_text(f"“{term}” 검색 결과")
    expect(page.locator(".search-results > li")).to_have_count(1)
    page.goto(f"/blog/posts/{post['id']}")
    expect(page.get_by_role("button", name="이 글 즐겨찾기")).to_be_visible()
    expect(page.locator("#favourites-count")).to_have_text("즐겨찾기 0개")
    for path in (f"/blog/search?q={term}", f"/blog/tags/{tag}", f"/blog/posts/{post['id']}", "/blog/your-feed",
                 f"/blog/authors/{writer.username}", "/blog/search"):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        assert untranslated_words(page) == set(), path
        assert_accessible(page)


def test_the_community_pages_read_well_in_the_dark_theme(open_page: OpenPage, platform: Platform) -> None:
    writer, reader = signed_up(platform), signed_up(platform)
    term, tag = word(), word()
    post = created(writer, title=f"Dark {term}", content=f"The {term} at night.", tags=[tag])
    page = open_page("desktop", color_scheme="dark", bypass_csp=True)
    sign_in_with_storage(page, reader)
    for name, path in (("search", f"/blog/search?q={term}"), ("tag", f"/blog/tags/{tag}"),
                       ("post", f"/blog/posts/{post['id']}"), ("author", f"/blog/authors/{writer.username}"),
                       ("your-feed", "/blog/your-feed")):
        page.goto(path)
        if name == "post":
            expect(page.locator("#favourite-button")).to_be_visible()
        if name == "author":
            expect(page.locator("#follow-author")).to_be_visible()
        check_page(page, f"dark-{name}")
