"""The blog's pages in a real browser, at desktop (1280x800) and phone (390x844) sizes.

Readers page, filter, open posts and read feeds; writers register, log in,
write Markdown, edit and delete; failures read as sentences; nothing a
person types runs as script; axe finds nothing serious; no page is wider
than the screen. Every test leaves a screenshot in tests/browser/screenshots/.
"""

from __future__ import annotations

import json
import os
import re
import signal
import xml.etree.ElementTree as ET
from collections.abc import Callable
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.browser.conftest import assert_accessible, assert_fits_viewport, screenshot
from tests.platform.harness import PASSWORD, Client, Platform, unique, wait_until

VIEWPORT_NAMES = ["desktop", "phone"]
SEED_PREFIX = "Seeded post"
SEED_COUNT = 45
SEED_CATEGORIES = ("Alpha", "Beta", "Gamma")
ATOM = "{http://www.w3.org/2005/Atom}"
PAYLOAD_SCRIPT = "<script>window.__x=1</script>"
PAYLOAD_IMG = "<img src=x onerror=window.__x=1>"
PAYLOAD_LINK = "javascript:window.__x=1"

OpenPage = Callable[..., Page]


# --- people and posts, made through the API --------------------------------------
@pytest.fixture(scope="package")
def seeded(platform: Platform) -> list[dict]:
    """45 posts in three categories, oldest first (post 01 is the oldest)."""
    writer = signed_up(platform)
    posts = []
    for number in range(1, SEED_COUNT + 1):
        answer = writer.create_post(title=f"{SEED_PREFIX} {number:02d}",
                                    content=f"Post number {number}, filed under *{SEED_CATEGORIES[number % 3]}*.",
                                    category_name=SEED_CATEGORIES[number % 3])
        assert answer.status_code == 201, answer.text
        posts.append(answer.json())
    return posts


def signed_up(platform: Platform) -> Client:
    person = Client(platform.url)
    registered = person.register()
    assert registered.status_code == 201, registered.text
    logged_in = person.login()
    if logged_in.status_code == 503:
        # Setup, not the subject: auth's pooled connection to users can meet users closing it as idle
        # (both sides keep idle connections 5 s; "Server disconnected" in auth's log). Once more.
        logged_in = person.login()
    assert logged_in.status_code == 200, (logged_in.status_code, logged_in.text)
    return person


@pytest.fixture
def writer(platform: Platform) -> Client:
    return signed_up(platform)


def parse_xml(text: bytes) -> ET.Element:
    return ET.fromstring(text)  # noqa: S314 - the platform's own answer, in a test


def api(platform: Platform) -> httpx.Client:
    return httpx.Client(base_url=platform.url, timeout=15)


def posts_by(platform: Platform, username: str) -> list[dict]:
    with api(platform) as client:
        answer = client.get("/blog/api/posts", params={"limit": 100})
    assert answer.status_code == 200
    return [post for post in answer.json() if post["author"] == username]


# --- what a person does in the browser ----------------------------------------------
def sign_in_with_storage(page: Page, person: Client) -> None:
    """The state a login leaves (the token in sessionStorage), without going through the form."""
    if not page.url.startswith("http"):
        page.goto("/blog/")
    page.evaluate("([token, username]) => { sessionStorage.setItem('titanium.token', token);"
                  " sessionStorage.setItem('titanium.username', username); }", [person.token, person.username])


def log_in(page: Page, username: str, password: str = PASSWORD) -> None:
    """On the login page: fill it in and send it; wait until it has taken the writer on."""
    page.fill("#login-username", username)
    page.fill("#login-password", password)
    page.click("#submit")
    page.wait_for_url(lambda url: "/blog/login" not in url)


def fill_post(page: Page, title: str, category: str, content: str) -> None:
    expect(page.locator("#post-form")).to_be_visible()
    page.fill("#post-title", title)
    page.fill("#post-category", category)
    page.fill("#post-content", content)


def h1_count(page: Page) -> int:
    return page.locator("h1").count()


def watch_dialogs(page: Page, seen: list[str], accept: bool = False) -> Callable[[Dialog], None]:
    """Record every dialog the page opens (and accept or dismiss it); returns the listener."""
    def on_dialog(dialog: Dialog) -> None:
        seen.append(dialog.message)
        if accept:
            dialog.accept()
        else:
            dialog.dismiss()

    page.on("dialog", on_dialog)
    return on_dialog


def all_titles_newest_first(platform: Platform) -> list[str]:
    titles: list[str] = []
    with api(platform) as client:
        while batch := client.get("/blog/api/posts", params={"offset": len(titles), "limit": 100}).json():
            titles += [post["title"] for post in batch]
    return titles


# --- readers ----------------------------------------------------------------------------
@pytest.mark.parametrize("viewport", VIEWPORT_NAMES)
def test_a_reader_pages_back_to_the_oldest_post(open_page: OpenPage, platform: Platform, seeded: list[dict],
                                                viewport: str) -> None:
    page = open_page(viewport, path="/blog/")
    expect(page).to_have_title("Titanium blog")
    assert h1_count(page) == 1 and page.locator("h1").inner_text() == "Latest posts"
    assert page.get_by_role("link", name=re.compile("Newer posts")).count() == 0
    screenshot(page, f"list-first-page-{viewport}")
    assert_fits_viewport(page)
    titles: list[str] = []
    for _ in range(40):
        titles += page.locator(".post-card h2").all_inner_texts()
        older = page.get_by_role("link", name=re.compile("Older posts"))
        if older.count() == 0:
            break
        older.click()
        page.wait_for_load_state()
        assert h1_count(page) == 1
        assert_fits_viewport(page)
    assert re.search(r"/blog/\?page=\d+$", page.url), page.url
    expect(page.get_by_role("link", name=re.compile("Newer posts"))).to_be_visible()
    screenshot(page, f"list-last-page-{viewport}")
    seen = [title for title in titles if title.startswith(SEED_PREFIX)]
    assert seen == [f"{SEED_PREFIX} {number:02d}" for number in range(SEED_COUNT, 0, -1)]
    assert titles == all_titles_newest_first(platform)  # every post once, the oldest last
    page.get_by_role("link", name=re.compile("Newer posts")).click()
    page.wait_for_load_state()
    assert h1_count(page) == 1


@pytest.mark.parametrize("viewport", VIEWPORT_NAMES)
def test_a_reader_filters_by_category(open_page: OpenPage, seeded: list[dict], viewport: str) -> None:
    page = open_page(viewport, path="/blog/")
    page.locator("nav.categories").get_by_role("link", name=re.compile(r"^Gamma")).click()
    page.wait_for_url("**/blog/categories/gamma")
    assert page.locator("h1").inner_text() == "Posts in Gamma"
    expect(page).to_have_title(re.compile("^Posts in Gamma"))
    assert page.locator("nav.categories [aria-current=page]").inner_text().startswith("Gamma")
    screenshot(page, f"category-{viewport}")
    assert_fits_viewport(page)
    names: list[str] = []
    while True:
        names += page.locator(".post-card .badge").all_inner_texts()
        older = page.get_by_role("link", name=re.compile("Older posts"))
        if older.count() == 0:
            break
        older.click()
        page.wait_for_load_state()
    assert names and set(names) == {"Gamma"}
    assert len(names) == sum(1 for post in seeded if post["category"]["name"] == "Gamma")
    # A badge leads to its category too.
    page.locator(".post-card .badge").first.click()
    page.wait_for_url("**/blog/categories/gamma")


@pytest.mark.parametrize("viewport", VIEWPORT_NAMES)
def test_a_reader_opens_a_post_by_its_url(open_page: OpenPage, seeded: list[dict], viewport: str) -> None:
    post = seeded[6]
    page = open_page(viewport)
    response = page.goto(f"/blog/posts/{post['id']}")
    assert response is not None and response.status == 200
    assert re.search(rf"/blog/posts/{post['id']}-seeded-post-07$", page.url), page.url
    assert page.locator("h1").inner_text() == post["title"] and h1_count(page) == 1
    expect(page).to_have_title(f"{post['title']} · Titanium blog")
    meta = {name: page.locator(f'meta[{attr}="{name}"]').get_attribute("content")
            for attr, name in (("name", "description"), ("property", "og:title"), ("property", "og:url"),
                               ("property", "og:type"), ("property", "og:description"))}
    assert meta["og:title"] == post["title"] and meta["og:type"] == "article"
    assert meta["description"] == meta["og:description"] == f"Post number 7, filed under {post['category']['name']}."
    assert meta["og:url"].endswith(f"/blog/posts/{post['id']}-seeded-post-07")
    assert page.locator(".content em").inner_text() == post["category"]["name"]
    assert page.locator('link[rel="icon"]').get_attribute("href") == "/blog/static/favicon.svg"
    assert page.locator("#post-actions").is_hidden()  # nobody is logged in
    screenshot(page, f"post-{viewport}")
    assert_fits_viewport(page)
    # The author's page lists it.
    page.get_by_role("link", name=post["author"]).click()
    page.wait_for_url(f"**/blog/authors/{post['author']}")
    assert page.locator("h1").inner_text() == f"Posts by {post['author']}"
    assert page.locator(".post-card h2").first.inner_text() == f"{SEED_PREFIX} {SEED_COUNT}"


def test_reading_needs_no_javascript(open_page: OpenPage, seeded: list[dict]) -> None:
    page = open_page("phone", path="/blog/", javascript=False)
    page.get_by_role("link", name=re.compile("Older posts")).click()
    page.wait_for_url("**/blog/?page=2")
    first = page.locator(".post-card h2 a").first
    title = first.inner_text()
    first.click()
    page.wait_for_url(re.compile(r"/blog/posts/\d+-"))
    assert page.locator("h1").inner_text() == title
    page.locator(".post-full .badge").click()
    page.wait_for_url(re.compile(r"/blog/categories/"))
    page.goto("/blog/write")
    expect(page.locator("#gate")).to_have_text("Writing needs JavaScript and an account; reading does not.")
    expect(page.locator("#post-form")).to_be_hidden()
    page.goto("/blog/login")
    expect(page.locator("#needs-js")).to_be_visible()
    expect(page.locator("#login-form")).to_be_hidden()
    screenshot(page, "no-javascript-write-phone")


def test_old_hash_links_lead_to_the_new_pages(open_page: OpenPage, seeded: list[dict]) -> None:
    post = seeded[0]
    page = open_page("desktop", path=f"/blog/#/posts/{post['id']}")
    page.wait_for_url(re.compile(rf"/blog/posts/{post['id']}-seeded-post-01$"))
    assert page.locator("h1").inner_text() == post["title"]
    page.goto("/blog/#/?category=beta")
    page.wait_for_url("**/blog/categories/beta")
    page.goto("/blog/#/login")
    page.wait_for_url("**/blog/login")
    screenshot(page, "hash-link-login")
    # The seed's own app wrote #/posts/new and #/posts/{id}/edit: its writing and editing pages
    # (which send a visitor who is not logged in to log in first, and back).
    page.goto("/blog/#/posts/new")
    page.wait_for_url("**/blog/login?next=%2Fblog%2Fwrite")
    page.goto(f"/blog/#/posts/{post['id']}/edit")
    page.wait_for_url(f"**/blog/login?next=%2Fblog%2Fposts%2F{post['id']}%2Fedit")


def test_unknown_posts_categories_and_pages_answer_a_404_page(open_page: OpenPage) -> None:
    page = open_page("phone")
    for path in ("/blog/posts/999999", "/blog/categories/no-such-category", "/blog/authors/nobody-here",
                 "/blog/no/such/page", "/blog/?page=9999"):
        response = page.goto(path)
        assert response is not None and response.status == 404, path
        assert response.headers["content-type"].startswith("text/html")
        assert page.locator("h1").inner_text() == "Page not found" and h1_count(page) == 1
        assert page.get_by_role("link", name="See the latest posts").is_visible()
    screenshot(page, "not-found-phone")
    assert_fits_viewport(page)


def test_the_atom_feeds_and_sitemap_list_the_posts(platform: Platform, seeded: list[dict]) -> None:
    with api(platform) as client:
        newest = client.get("/blog/api/posts", params={"limit": 20}).json()
        feed = client.get("/blog/feed.xml")
        assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/atom+xml")
        root = parse_xml(feed.content)
        assert root.tag == f"{ATOM}feed" and root.findtext(f"{ATOM}title") == "Titanium blog"
        entries = root.findall(f"{ATOM}entry")
        assert [entry.findtext(f"{ATOM}title") for entry in entries] == [post["title"] for post in newest]
        for entry in entries[:5]:
            link = entry.find(f"{ATOM}link[@rel='alternate']")
            assert link is not None and link.get("href", "").startswith(platform.url + "/blog/posts/")
            page = client.get(link.get("href", ""))
            assert page.status_code == 200 and entry.findtext(f"{ATOM}title", "") in page.text
            assert entry.find(f"{ATOM}content[@type='html']") is not None
            assert entry.findtext(f"{ATOM}author/{ATOM}name")
        category = parse_xml(client.get("/blog/categories/beta/feed.xml").content)
        titles = [entry.findtext(f"{ATOM}title") for entry in category.findall(f"{ATOM}entry")]
        assert titles and all(title in {p["title"] for p in seeded if p["category"]["slug"] == "beta"} for title in titles)
        assert {entry.find(f"{ATOM}category").get("term") for entry in category.findall(f"{ATOM}entry")} == {"beta"}
        assert client.get("/blog/categories/no-such/feed.xml").status_code == 404
        sitemap = parse_xml(client.get("/blog/sitemap.xml").content)
        locations = {url.findtext("{http://www.sitemaps.org/schemas/sitemap/0.9}loc") for url in sitemap}
        assert f"{platform.url}/blog/" in locations and f"{platform.url}/blog/categories/gamma" in locations
        assert any(location.endswith(f"/blog/posts/{seeded[0]['id']}-seeded-post-01") for location in locations)


# --- writers --------------------------------------------------------------------------------
MARKDOWN = """# Release notes

Read [the docs](https://example.com/docs) before you **upgrade**.

```
make test
```

- first
- second

> Quoted words.

| step | time |
|------|------|
| test | 4 min |
"""


@pytest.mark.parametrize("viewport", VIEWPORT_NAMES)
def test_a_writer_registers_logs_in_writes_edits_and_deletes(open_page: OpenPage, platform: Platform, viewport: str) -> None:
    page = open_page(viewport, path="/blog/")
    seen_dialogs: list[str] = []
    page.get_by_role("link", name="Register").click()
    page.wait_for_url("**/blog/register**")
    username = unique("writer")
    page.fill("#register-username", username)
    page.fill("#register-email", f"{username}@example.com")
    page.fill("#register-password", PASSWORD)
    screenshot(page, f"register-{viewport}")
    page.click("#submit")
    page.wait_for_url(lambda url: "/blog/register" not in url)
    expect(page.locator("#flash")).to_contain_text("Your account is ready")
    expect(page.locator("#account")).to_contain_text(f"Logged in as {username}")

    # Log out, then log in again with the keyboard alone.
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/blog/")
    expect(page.locator("#account")).to_contain_text("Log in")
    page.get_by_role("link", name="Log in").click()
    page.wait_for_url("**/blog/login**")
    for _ in range(12):
        if page.evaluate("() => document.activeElement && document.activeElement.id") == "login-username":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "login-username", "the username field is not reachable by Tab"
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/blog/login" not in url)
    expect(page.locator("#account")).to_contain_text(f"Logged in as {username}")

    # Write a Markdown post.
    page.get_by_role("link", name="Write").click()
    page.wait_for_url("**/blog/write")
    fill_post(page, "Notes on a release", "Release notes", MARKDOWN)
    expect(page.locator("#post-title-count")).to_have_text(f"{len('Notes on a release')} of 120 characters")
    expect(page.locator("#post-content-count")).to_have_text(f"{len(MARKDOWN)} of 20000 characters")
    assert page.locator("#post-title").get_attribute("maxlength") == "120"
    assert page.locator("#post-category").get_attribute("maxlength") == "50"
    assert page.locator("#post-content").get_attribute("maxlength") == "20000"
    if viewport == "phone":  # inputs take the width of a phone
        box = page.locator("#post-title").bounding_box()
        assert box is not None and box["width"] >= 0.8 * 390
    screenshot(page, f"write-{viewport}")
    assert_fits_viewport(page)
    page.click("#submit")
    page.wait_for_url(re.compile(r"/blog/posts/\d+-notes-on-a-release$"))
    post_id = int(re.search(r"/blog/posts/(\d+)-", page.url).group(1))  # type: ignore[union-attr]
    expect(page.locator("#flash")).to_have_text("Your post is published.")
    assert page.evaluate("() => document.activeElement.id") == "page-title"  # focus on the new post
    content = page.locator(".content")
    assert content.locator("h2").inner_text() == "Release notes"
    link = content.get_by_role("link", name="the docs")
    assert link.get_attribute("href") == "https://example.com/docs"
    assert set((link.get_attribute("rel") or "").split()) >= {"nofollow", "noopener"}
    assert content.locator("pre code").inner_text().strip() == "make test"
    assert content.locator("li").all_inner_texts() == ["first", "second"]
    assert content.locator("blockquote").inner_text().strip() == "Quoted words."
    assert content.locator("table td").first.inner_text() == "test"
    assert h1_count(page) == 1
    screenshot(page, f"written-post-{viewport}")
    assert_fits_viewport(page)

    # Edit it.
    page.get_by_role("link", name="Edit").click()
    page.wait_for_url(f"**/blog/posts/{post_id}/edit")
    expect(page.locator("#post-form")).to_be_visible()
    assert page.input_value("#post-title") == "Notes on a release"
    assert page.input_value("#post-content") == MARKDOWN
    page.fill("#post-title", "Notes on the 2.0 release")
    page.click("#submit")
    page.wait_for_url(re.compile(rf"/blog/posts/{post_id}-notes-on-the-2-0-release$"))
    expect(page.locator("#flash")).to_have_text("Your changes are saved.")
    assert page.locator("h1").inner_text() == "Notes on the 2.0 release"

    # Delete it: first change one's mind, then confirm.
    dismiss = watch_dialogs(page, seen_dialogs, accept=False)
    page.get_by_role("button", name="Delete").click()
    assert seen_dialogs == ["Delete the post “Notes on the 2.0 release”? This cannot be undone."]
    assert page.locator("h1").inner_text() == "Notes on the 2.0 release"
    with api(platform) as client:
        assert client.get(f"/blog/api/posts/{post_id}").status_code == 200
    page.remove_listener("dialog", dismiss)
    watch_dialogs(page, seen_dialogs, accept=True)
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url("**/blog/")
    expect(page.locator("#flash")).to_contain_text("is deleted")
    assert len(seen_dialogs) == 2
    screenshot(page, f"deleted-{viewport}")
    with api(platform) as client:
        assert client.get(f"/blog/api/posts/{post_id}").status_code == 404


def test_a_double_click_on_publish_publishes_once(open_page: OpenPage, platform: Platform, writer: Client) -> None:
    page = open_page("desktop")
    sign_in_with_storage(page, writer)
    page.goto("/blog/write")
    fill_post(page, "Clicked twice", "Notes", "One post, however eager the finger.")
    page.dblclick("#submit")
    page.wait_for_url(re.compile(r"/blog/posts/\d+-clicked-twice$"))
    assert [post["title"] for post in posts_by(platform, writer.username or "")] == ["Clicked twice"]
    # Two submits in the same instant (no click at all) make one post too.
    page.goto("/blog/write")
    fill_post(page, "Submitted twice", "Notes", "Still one post.")
    # The button's state is read in the same task as the submits: once the post is made the page moves on.
    disabled = page.evaluate("() => { const form = document.getElementById('post-form'); form.requestSubmit(); "
                             "form.requestSubmit(); return document.getElementById('submit').disabled; }")
    assert disabled, "the publish button stays enabled while the first submit is on its way"
    page.wait_for_url(re.compile(r"/blog/posts/\d+-submitted-twice$"))
    screenshot(page, "double-submit")
    assert sorted(post["title"] for post in posts_by(platform, writer.username or "")) == ["Clicked twice", "Submitted twice"]


def test_each_write_carries_an_idempotency_key_of_its_own(open_page: OpenPage, writer: Client) -> None:
    """So that a write resent after a lost answer (by the gateway, when a blog process died) is done once."""
    page = open_page("desktop")
    sign_in_with_storage(page, writer)
    keys = []
    for title in ("Keyed once", "Keyed twice"):
        page.goto("/blog/write")
        fill_post(page, title, "Notes", "A write with a key.")
        with page.expect_request(lambda request: request.method == "POST" and request.url.endswith("/blog/api/posts")
                                 ) as sent:
            page.click("#submit")
        keys.append(sent.value.headers.get("idempotency-key"))
        page.wait_for_url(re.compile(r"/blog/posts/\d+-keyed-"))
    assert all(key and re.fullmatch(r"[0-9a-f]{32}", key) for key in keys) and keys[0] != keys[1], keys


@pytest.mark.parametrize("viewport", VIEWPORT_NAMES)
def test_an_invalid_session_leads_to_the_login_page_and_back(open_page: OpenPage, platform: Platform, writer: Client,
                                                              viewport: str) -> None:
    page = open_page(viewport, path="/blog/")
    page.evaluate("() => { sessionStorage.setItem('titanium.token', 'garbage.not-a.token');"
                  " sessionStorage.setItem('titanium.username', 'someone'); }")
    page.goto("/blog/write")
    page.wait_for_url("**/blog/login?next=%2Fblog%2Fwrite")
    expect(page.locator("#flash")).to_contain_text("Your session has expired or is no longer valid")
    expect(page.locator("#account")).to_contain_text("Log in")
    screenshot(page, f"session-expired-{viewport}")
    log_in(page, writer.username or "")
    page.wait_for_url("**/blog/write")
    expect(page.locator("#post-form")).to_be_visible()

    # The session goes bad while writing (both tokens: a good refresh token would renew it unnoticed,
    # as the next test shows): the text survives the trip to the login page.
    fill_post(page, "Written while the session ended", "Notes", "Do not lose me.")
    page.evaluate("() => { sessionStorage.setItem('titanium.token', 'garbage.not-a.token');"
                  " sessionStorage.setItem('titanium.refresh', 'spent'); }")
    page.click("#submit")
    page.wait_for_url("**/blog/login?next=%2Fblog%2Fwrite")
    expect(page.locator("#flash")).to_contain_text("log in again")
    log_in(page, writer.username or "")
    page.wait_for_url("**/blog/write")
    expect(page.locator("#flash")).to_contain_text("Your unsaved text is back")
    assert page.input_value("#post-title") == "Written while the session ended"
    assert page.input_value("#post-content") == "Do not lose me."
    page.click("#submit")
    page.wait_for_url(re.compile(r"/blog/posts/\d+-written-while-the-session-ended$"))
    assert [post["title"] for post in posts_by(platform, writer.username or "")] == ["Written while the session ended"]


def test_the_write_page_sends_a_logged_out_visitor_to_log_in(open_page: OpenPage) -> None:
    page = open_page("phone", path="/blog/write")
    page.wait_for_url("**/blog/login?next=%2Fblog%2Fwrite")
    expect(page.locator("#flash")).to_have_text("Please log in to write a post.")
    assert page.evaluate("() => document.activeElement.id") == "page-title"


def test_failures_are_told_in_sentences(open_page: OpenPage, writer: Client) -> None:
    page = open_page("phone", path="/blog/login")
    log_in_fails = page.locator("#form-errors")
    page.fill("#login-username", writer.username or "")
    page.fill("#login-password", "not the password")
    page.click("#submit")
    expect(log_in_fails).to_have_text("The username or the password is not right. Please check both and try again.")
    expect(page.locator("#submit")).to_be_enabled()
    page.fill("#login-username", "")
    page.fill("#login-password", "")
    page.click("#submit")
    expect(log_in_fails).to_contain_text("Please enter your username.")
    expect(log_in_fails).to_contain_text("Please enter your password.")
    screenshot(page, "login-errors-phone")

    page.goto("/blog/register")
    page.fill("#register-username", writer.username or "")
    page.fill("#register-email", "someone@example.com")
    page.fill("#register-password", PASSWORD)
    page.click("#submit")
    expect(page.locator("#form-errors")).to_have_text("That username is already taken. Please choose another one.")

    sign_in_with_storage(page, writer)
    page.goto("/blog/write")
    fill_post(page, "A title", "Notes", "Some text")
    # Past what the form lets a person type (maxlength): the server's refusal, told in words.
    page.evaluate("() => { document.getElementById('post-title').value = 'x'.repeat(121); }")
    page.click("#submit")
    errors = page.locator("#form-errors")
    expect(errors).to_have_text("The title is too long: it may have at most 120 characters.")
    assert page.locator("#post-title").get_attribute("aria-invalid") == "true"
    assert page.evaluate("() => document.activeElement.id") == "form-errors"
    page.fill("#post-title", "Fine")
    page.fill("#post-content", "   ")
    page.click("#submit")
    expect(errors).to_have_text("Please write the text of the post.")
    text = errors.inner_text()
    assert "category_name" not in text and "body" not in text and "loc" not in text
    screenshot(page, "write-errors-phone")


def test_another_user_sees_no_edit_or_delete(open_page: OpenPage, platform: Platform, writer: Client) -> None:
    post = writer.create_post(title="Mine alone", content="Hands off.").json()
    other = signed_up(platform)
    page = open_page("desktop")
    sign_in_with_storage(page, other)
    page.goto(f"/blog/posts/{post['id']}")
    page.wait_for_load_state()
    expect(page.locator("#account")).to_contain_text(f"Logged in as {other.username}")
    expect(page.locator("#post-actions")).to_be_hidden()
    assert page.get_by_role("button", name="Delete").count() == 0
    assert page.get_by_role("link", name="Edit").count() == 0
    screenshot(page, "other-user-post")
    page.goto(f"/blog/posts/{post['id']}/edit")
    expect(page.locator("#gate")).to_have_text("Only the author of this post may edit it.")
    expect(page.locator("#post-form")).to_be_hidden()
    # The author does see them.
    author_page = open_page("desktop")
    sign_in_with_storage(author_page, writer)
    author_page.goto(f"/blog/posts/{post['id']}")
    expect(author_page.locator("#post-actions")).to_be_visible()


# --- nothing a person types runs ---------------------------------------------------
@pytest.mark.parametrize("viewport", VIEWPORT_NAMES)
def test_script_payloads_run_nothing_and_show_as_text(open_page: OpenPage, platform: Platform, writer: Client,
                                                       viewport: str) -> None:
    title = f"T {PAYLOAD_SCRIPT} {PAYLOAD_IMG}"
    content = "\n\n".join([
        PAYLOAD_SCRIPT, PAYLOAD_IMG, f"[click me]({PAYLOAD_LINK})", f'<a href="{PAYLOAD_LINK}">raw link</a>',
        '<p style="position:fixed;top:0">styled</p>', "![pic](x){onerror=window.__x=1}",
        f"[data](data:text/html,{quote(PAYLOAD_SCRIPT)})",
    ])
    answer = writer.create_post(title=title, content=content, category_name=PAYLOAD_IMG)
    assert answer.status_code == 201, answer.text
    post = answer.json()
    seen_dialogs: list[str] = []
    page = open_page(viewport)
    watch_dialogs(page, seen_dialogs)
    sign_in_with_storage(page, writer)
    for path in ("/blog/", f"/blog/posts/{post['id']}", post_url_category(post), f"/blog/authors/{writer.username}",
                 f"/blog/posts/{post['id']}/edit", f"/blog/authors/{quote(PAYLOAD_SCRIPT, safe='')}",
                 f"/blog/login?next={quote(PAYLOAD_LINK)}"):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("() => typeof window.__x") == "undefined", path
        assert page.locator("main script, [onerror], main [style]").count() == 0, path
        assert page.locator('a[href^="javascript:" i], a[href^="data:" i]').count() == 0, path
        if "/edit" in path:
            expect(page.locator("#post-form")).to_be_visible()
            assert page.input_value("#post-title") == title and page.input_value("#post-content") == content
            assert page.input_value("#post-category") == PAYLOAD_IMG
        elif "/posts/" in path:
            assert page.locator("h1").inner_text() == title
            text = page.locator(".content").inner_text()
            assert PAYLOAD_SCRIPT in text and PAYLOAD_IMG in text and "[click me](javascript:window.__x=1)" in text
            assert page.locator(".post-full .badge").inner_text() == PAYLOAD_IMG
            screenshot(page, f"payload-post-{viewport}")
            assert_fits_viewport(page)
        elif path == "/blog/":
            assert title in page.locator(".post-card h2").all_inner_texts()
    # A username cannot hold markup: the form says so, in words, and nothing runs.
    page.evaluate("() => sessionStorage.clear()")
    page.goto("/blog/register")
    page.fill("#register-username", PAYLOAD_SCRIPT)
    page.fill("#register-email", "x@example.com")
    page.fill("#register-password", PASSWORD)
    page.click("#submit")
    expect(page.locator("#form-errors")).to_contain_text("The username needs 3 to 32 letters")
    assert page.evaluate("() => typeof window.__x") == "undefined"
    assert seen_dialogs == []


def post_url_category(post: dict) -> str:
    return f"/blog/categories/{quote(post['category']['slug'], safe='')}"


# --- every page: one h1, nothing serious for axe, no sideways scrolling -----------------
@pytest.mark.parametrize("viewport", VIEWPORT_NAMES)
def test_every_page_is_accessible_and_fits_the_screen(open_page: OpenPage, platform: Platform, seeded: list[dict],
                                                        writer: Client, viewport: str) -> None:
    long_word = "Supercalifragilistic" * 15
    long_url = "https://example.com/" + "very-long-path-segment/" * 12
    content = (f"# A heading\n\n{long_word}\n\nA bare URL: {long_url} and [a link]({long_url}).\n\n"
               f"```\n{'x = 1; ' * 60}\n```\n\n| {' | '.join(f'column {n}' for n in range(12))} |\n"
               f"|{'---|' * 12}\n| {' | '.join(str(n) for n in range(12))} |\n\n> A quote\n\n- a list\n")
    post = writer.create_post(title=f"Long words {long_word[:80]}", content=content, category_name="Gamma").json()
    page = open_page(viewport, bypass_csp=True)
    sign_in_with_storage(page, writer)
    pages = {
        "list": "/blog/", "list-page-2": "/blog/?page=2", "post": f"/blog/posts/{post['id']}",
        "category": "/blog/categories/gamma", "author": f"/blog/authors/{writer.username}",
        "write": "/blog/write", "edit": f"/blog/posts/{post['id']}/edit", "not-found": "/blog/posts/999999",
    }
    for name, path in pages.items():
        page.goto(path)
        page.wait_for_load_state("networkidle")
        if name in ("write", "edit"):
            expect(page.locator("#post-form")).to_be_visible()
        if name == "post":
            expect(page.locator("#post-actions")).to_be_visible()
        assert h1_count(page) == 1, f"{name}: {h1_count(page)} h1"
        screenshot(page, f"a11y-{name}-{viewport}")
        assert_fits_viewport(page)
        assert_accessible(page)
    # Logged out: the account forms, and the list with its log-in links.
    page.evaluate("() => sessionStorage.clear()")
    for name, path in (("login", "/blog/login"), ("register", "/blog/register"), ("list-logged-out", "/blog/")):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        assert h1_count(page) == 1
        screenshot(page, f"a11y-{name}-{viewport}")
        assert_fits_viewport(page)
        assert_accessible(page)
    # The errors a form shows are accessible too.
    page.goto("/blog/login")
    page.click("#submit")
    expect(page.locator("#form-errors")).to_be_visible()
    assert_accessible(page)


def test_the_category_badges_read_well_on_their_colours(open_page: OpenPage, seeded: list[dict]) -> None:
    page = open_page("desktop", path="/blog/")
    ratios = page.evaluate("""() => {
        const channel = (c) => { c /= 255; return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
        const luminance = (css) => { const [r, g, b] = css.match(/\\d+/g).map(Number);
            return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b); };
        return [...document.querySelectorAll('.badge')].map((badge) => {
            const style = getComputedStyle(badge);
            const [a, b] = [luminance(style.color), luminance(style.backgroundColor)].sort((x, y) => y - x);
            return [badge.textContent, style.backgroundColor, (a + 0.05) / (b + 0.05)];
        });
    }""")
    assert ratios and all(ratio >= 4.5 for _name, _background, ratio in ratios), ratios
    assert len({background for _name, background, _ratio in ratios}) >= 3  # each category its colour


def test_a_refused_access_token_is_renewed_and_the_write_goes_through_unnoticed(open_page: OpenPage, platform: Platform,
                                                                                writer: Client) -> None:
    page = open_page("desktop", path="/blog/login")
    log_in(page, writer.username or "")
    page.wait_for_url("**/blog/")
    page.goto("/blog/write")
    fill_post(page, "Written across a renewal", "Notes", "The access token was refused once.")
    page.evaluate("() => sessionStorage.setItem('titanium.token', 'garbage.not-a.token')")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/blog/posts/\d+-written-across-a-renewal$"))
    renewed = page.evaluate("() => sessionStorage.getItem('titanium.token')")
    assert renewed != "garbage.not-a.token"
    assert httpx.get(f"{platform.url}/api/verify", headers={"Authorization": f"Bearer {renewed}"}).status_code == 200
    # Logging out ends the session on the server: the tokens the tab held no longer renew.
    spent = page.evaluate("() => sessionStorage.getItem('titanium.refresh')")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/blog/")
    assert httpx.post(f"{platform.url}/api/refresh", json={"refresh_token": spent}).status_code == 401


def test_the_page_scripts_keep_the_token_only_in_session_storage(open_page: OpenPage, writer: Client) -> None:
    page = open_page("desktop", path="/blog/login")
    log_in(page, writer.username or "")
    stored = json.loads(page.evaluate("() => JSON.stringify({...sessionStorage})"))
    assert stored["titanium.username"] == writer.username and stored["titanium.token"].count(".") == 2
    assert page.evaluate("() => localStorage.length") == 0 and page.context.cookies() == []


# --- Korean and English -----------------------------------------------------------------
KOREAN = "ko-KR"
KOREAN_DATE = re.compile(r"^\d{4}년 \d{1,2}월 \d{1,2}일$")
# Words a Korean page may show in Latin letters: names and terms that are not translated.
LATIN_WORDS_IN_KOREAN = {"Atom", "JavaScript", "Titanium", "blog", "English", "https", "name", "example", "com",
                         "JPEG", "PNG", "GIF", "WebP", "MB"}  # image formats and sizes, named so in Korean too


def untranslated_words(page: Page) -> set[str]:
    """Latin-letter words in the page's own words (not people's: titles, names, categories, posts, addresses)."""
    words: list[str] = page.evaluate("""() => {
        const copy = document.body.cloneNode(true);
        copy.querySelectorAll('.post-card h2, .summary, .meta a, .badge, .categories, .tags, .bio, .content, .who, '
            + '[lang]:not(html), '
            + 'input, textarea, datalist, code, script, [hidden], .page-numbers, h1').forEach((node) => node.remove());
        document.body.append(copy);  // innerText needs the copy laid out
        const text = copy.innerText;
        copy.remove();
        return text.match(/[A-Za-z]{2,}/g) || [];
    }""")
    return set(words) - LATIN_WORDS_IN_KOREAN


@pytest.mark.parametrize("viewport", VIEWPORT_NAMES)
def test_a_korean_browser_gets_the_pages_in_korean(open_page: OpenPage, platform: Platform, seeded: list[dict],
                                                   writer: Client, viewport: str) -> None:
    page = open_page(viewport, locale=KOREAN, bypass_csp=True)
    response = page.goto("/blog/")
    assert response is not None and {"accept-language", "cookie"} <= {
        name.strip().lower() for name in response.headers["vary"].split(",")}
    assert page.locator("html").get_attribute("lang") == "ko"
    assert page.locator("h1").inner_text() == "최신 글"
    expect(page).to_have_title("Titanium blog")
    first = page.locator(".post-card").first
    assert KOREAN_DATE.match(first.locator("time").inner_text()), first.locator("time").inner_text()
    assert re.fullmatch(r"\d+분 분량", first.locator(".reading-time").inner_text())
    assert page.get_by_role("link", name=re.compile("이전 글")).is_visible()
    assert page.get_by_role("button", name="English").is_visible()
    assert untranslated_words(page) == set(), page.url
    screenshot(page, f"korean-list-{viewport}")
    assert_fits_viewport(page)
    assert_accessible(page)
    post = seeded[3]
    page.goto(f"/blog/posts/{post['id']}")
    assert page.locator(".meta").inner_text().startswith(f"글쓴이 {post['author']}")
    assert untranslated_words(page) == set(), page.url
    assert_accessible(page)
    # The script speaks Korean too: its account links, and what it says about a form.
    page.goto("/blog/login")
    expect(page.locator("#login-form")).to_be_visible()
    page.click("#submit")
    expect(page.locator("#form-errors")).to_contain_text("사용자 이름을 입력해 주세요.")
    expect(page.locator("#form-errors")).to_contain_text("비밀번호를 입력해 주세요.")
    assert untranslated_words(page) == set(), page.url
    screenshot(page, f"korean-login-errors-{viewport}")
    assert_accessible(page)
    log_in(page, writer.username or "")
    expect(page.locator("#flash")).to_have_text(f"{writer.username} 님, 환영합니다. 로그인되었습니다.")
    expect(page.locator("#account")).to_contain_text("로그아웃")
    page.goto("/blog/write")
    expect(page.locator("#post-form")).to_be_visible()
    expect(page.locator("#post-title-count")).to_have_text("120자 중 0자")
    page.fill("#post-title", "제목")
    expect(page.locator("#post-title-count")).to_have_text("120자 중 2자")
    assert untranslated_words(page) == set(), page.url
    screenshot(page, f"korean-write-{viewport}")
    assert_fits_viewport(page)
    assert_accessible(page)
    # Every other page of the blog, logged out.
    page.evaluate("() => sessionStorage.clear()")
    for path in ("/blog/register", "/blog/categories/beta", f"/blog/authors/{post['author']}", "/blog/?page=2",
                 "/blog/posts/999999", "/blog/no/such/page"):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        assert page.locator("html").get_attribute("lang") == "ko", path
        assert untranslated_words(page) == set(), path
        assert_accessible(page)


def test_an_english_browser_gets_english_and_others_the_site_language(platform: Platform, seeded: list[dict]) -> None:
    with api(platform) as client:
        for accept, heading, lang in (("en-US,en;q=0.9", "Latest posts", "en"), ("ko;q=0.2, en-GB", "Latest posts", "en"),
                                      ("fr-FR, ko;q=0.5", "최신 글", "ko"), ("de-DE, fr;q=0.8", "Latest posts", "en"),
                                      ("", "Latest posts", "en")):
            page = client.get("/blog/", headers={"Accept-Language": accept})
            assert f'<html lang="{lang}">' in page.text and f'tabindex="-1">{heading}' in page.text, accept
        # Feeds are for programs: in the site's language whoever asks.
        feed = client.get("/blog/feed.xml", headers={"Accept-Language": "ko"})
        assert parse_xml(feed.content).get("{http://www.w3.org/XML/1998/namespace}lang") == "en"


@pytest.mark.parametrize("javascript", [False, True], ids=["without-javascript", "with-javascript"])
def test_the_language_switch_on_every_page_keeps_the_readers_choice(open_page: OpenPage, seeded: list[dict],
                                                                    javascript: bool) -> None:
    page = open_page("phone", path="/blog/?page=2", javascript=javascript)
    assert page.locator("h1").inner_text().startswith("Latest posts")
    page.get_by_role("button", name="한국어").click()
    page.wait_for_load_state()
    assert page.url.endswith("/blog/?page=2"), page.url  # the same page, now in Korean
    assert page.locator("h1").inner_text().startswith("최신 글")
    cookie = next(c for c in page.context.cookies() if c["name"] == "titanium_language")
    assert cookie["value"] == "ko" and cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/blog"
    screenshot(page, f"language-switched-{'js' if javascript else 'no-js'}")
    page.goto(f"/blog/posts/{seeded[0]['id']}")  # the choice holds on every page
    assert page.locator("html").get_attribute("lang") == "ko"
    page.get_by_role("button", name="English").click()
    page.wait_for_url(re.compile(rf"/blog/posts/{seeded[0]['id']}-"))
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator(".meta").inner_text().startswith("By ")


def test_the_switches_refuse_what_they_do_not_offer(platform: Platform) -> None:
    with api(platform) as client:
        for path, body in (("/blog/language", "language=fr&next=/blog/"), ("/blog/theme", "theme=pink&next=/blog/")):
            answer = client.post(path, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert answer.status_code == 422 and "must be one of" in answer.json()["detail"], path
            assert "set-cookie" not in answer.headers
        wrong_type = client.post("/blog/language", json={"language": "ko"})
        assert wrong_type.status_code == 415 and wrong_type.json()["detail"]
        # Back to a page of this blog only: never another site.
        for next_page, landing in (("https://evil.example/", "/blog/"), ("//evil.example", "/blog/"),
                                   ("/blog/posts/1", "/blog/posts/1"), ("/blog/api/posts", "/blog/")):
            answer = client.post("/blog/language", data={"language": "ko", "next": next_page})
            assert answer.status_code == 303 and answer.headers["location"] == landing, next_page


# --- the dark theme ---------------------------------------------------------------------------
DARK_PAGE = "rgb(11, 17, 32)"
LIGHT_PAGE = "rgb(248, 250, 252)"


def background(page: Page) -> str:
    return page.evaluate("() => getComputedStyle(document.body).backgroundColor")


@pytest.mark.parametrize("viewport", VIEWPORT_NAMES)
def test_a_reader_whose_system_is_dark_gets_the_dark_theme(open_page: OpenPage, seeded: list[dict], writer: Client,
                                                           viewport: str) -> None:
    page = open_page(viewport, color_scheme="dark", bypass_csp=True)
    post = writer.create_post(title="Dark and light", content=MARKDOWN, category_name="Gamma").json()
    pages = {"list": "/blog/", "post": f"/blog/posts/{post['id']}", "login": "/blog/login", "not-found": "/blog/nothing"}
    for name, path in pages.items():
        page.goto(path)
        page.wait_for_load_state("networkidle")
        assert background(page) == DARK_PAGE, path
        expect(page.get_by_role("button", name="Light theme")).to_be_visible()
        assert page.get_by_role("button", name="Dark theme").count() == 0  # hidden, so not offered
        screenshot(page, f"dark-{name}-{viewport}")
        assert_fits_viewport(page)
        assert_accessible(page)
    sign_in_with_storage(page, writer)
    page.goto("/blog/write")
    expect(page.locator("#post-form")).to_be_visible()
    page.click("#submit")
    expect(page.locator("#form-errors")).to_be_visible()
    screenshot(page, f"dark-write-errors-{viewport}")
    assert_accessible(page)


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without-javascript"])
def test_the_theme_switch_changes_the_theme_and_keeps_it(open_page: OpenPage, seeded: list[dict], javascript: bool) -> None:
    page = open_page("desktop", path="/blog/?page=2", javascript=javascript)
    assert background(page) == LIGHT_PAGE
    page.get_by_role("button", name="Dark theme").click()
    expect(page.get_by_role("button", name="Light theme")).to_be_visible()
    # Without the script the form is sent and a new page comes: its style is read once its stylesheets are in.
    page.wait_for_load_state("load")
    assert background(page) == DARK_PAGE
    if javascript:  # changed in place: the switch keeps the focus
        assert page.evaluate("() => document.activeElement.classList.contains('to-light')")
    # With the script the choice is sent in the background, without it the form is sent: the server keeps it.
    wait_until(lambda: {c["name"]: c["value"] for c in page.context.cookies()}.get("titanium_theme") == "dark",
               timeout=10, what="the theme cookie")
    assert page.url.endswith("/blog/?page=2")
    # The choice holds on the next page, from its first paint: the server sends the dark stylesheet as applying.
    response = page.goto("/blog/")
    assert response is not None and 'media="all" id="dark-theme"' in response.text()
    assert background(page) == DARK_PAGE
    screenshot(page, f"theme-switched-{'js' if javascript else 'no-js'}")
    # A reader whose system is dark can choose light, the other way round.
    page.get_by_role("button", name="Light theme").click()
    expect(page.get_by_role("button", name="Dark theme")).to_be_visible()
    page.wait_for_load_state("load")
    assert background(page) == LIGHT_PAGE
    dark_system = open_page("phone", color_scheme="dark", javascript=javascript)
    dark_system.context.add_cookies([{"name": "titanium_theme", "value": "light", "url": page.url}])
    dark_system.goto("/blog/")
    assert background(dark_system) == LIGHT_PAGE


# --- page numbers, reading time, structured data, robots.txt -------------------------------------
@pytest.mark.parametrize("viewport", VIEWPORT_NAMES)
def test_the_lists_have_page_numbers(open_page: OpenPage, platform: Platform, seeded: list[dict], viewport: str) -> None:
    total = len(all_titles_newest_first(platform))
    last = -(-total // 10)
    page = open_page(viewport, path="/blog/")
    pager = page.get_by_role("navigation", name="Pages")
    assert pager.locator("[aria-current=page]").inner_text() == "1"
    assert pager.get_by_role("link", name=f"Page {last}").inner_text() == str(last)
    assert pager.get_by_role("link", name="Page 3").count() == 0  # too far from page 1: "…" stands for it
    pager.get_by_role("link", name="Page 2").click()
    page.wait_for_url("**/blog/?page=2")
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Page 3").click()
    page.wait_for_url("**/blog/?page=3")
    assert page.get_by_role("navigation", name="Pages").locator("[aria-current=page]").inner_text() == "3"
    assert h1_count(page) == 1 and "page 3" in page.locator("h1").inner_text()
    screenshot(page, f"page-numbers-{viewport}")
    assert_fits_viewport(page)
    page.get_by_role("navigation", name="Pages").get_by_role("link", name=f"Page {last}").click()
    page.wait_for_url(f"**/blog/?page={last}")
    assert page.get_by_role("link", name=re.compile("Older posts")).count() == 0
    assert page.locator(".post-card h2").last.inner_text() == all_titles_newest_first(platform)[-1]
    # A category's pages are numbered within it.
    with api(platform) as client:
        gamma = next(found for found in client.get("/blog/api/categories").json() if found["slug"] == "gamma")
    page.goto("/blog/categories/gamma")
    numbers = page.get_by_role("navigation", name="Pages").locator(".page-numbers a").all_inner_texts()
    assert numbers[0] == "1" and numbers[-1] == str(-(-gamma["post_count"] // 10)) != str(last)


def test_lists_and_posts_tell_their_reading_time(open_page: OpenPage, writer: Client) -> None:
    long = writer.create_post(title="A long read", content=" ".join(["word"] * 1150), category_name="Gamma").json()
    page = open_page("desktop", path=f"/blog/authors/{writer.username}")
    assert page.locator(".post-card .reading-time").first.inner_text() == "5 min read"
    page.goto(f"/blog/posts/{long['id']}")
    assert page.locator(".post-full .reading-time").inner_text() == "5 min read"


def test_a_post_page_carries_a_twitter_card_and_blog_posting_json_ld(open_page: OpenPage, platform: Platform,
                                                                     writer: Client) -> None:
    title = f"Structured {PAYLOAD_SCRIPT} data"
    post = writer.create_post(title=title, content="A post about **structure**.", category_name="Gamma").json()
    page = open_page("desktop", path=f"/blog/posts/{post['id']}")
    blocks = page.locator('script[type="application/ld+json"]')
    assert blocks.count() == 1
    data = json.loads(blocks.text_content() or "")
    assert data["@context"] == "https://schema.org" and data["@type"] == "BlogPosting"
    assert data["headline"] == title and data["description"] == "A post about structure."
    assert data["author"] == {"@type": "Person", "name": writer.username,
                              "url": f"{platform.url}/blog/authors/{writer.username}"}
    assert data["url"] == page.url and data["mainEntityOfPage"]["@id"] == page.url
    assert data["datePublished"].startswith(post["created_at"][:19]) and data["timeRequired"] == "PT1M"
    assert data["publisher"]["name"] == "Titanium blog" and data["articleSection"] == "Gamma"
    assert page.evaluate("() => typeof window.__x") == "undefined"
    meta = {name: page.locator(f'meta[name="{name}"]').get_attribute("content")
            for name in ("twitter:card", "twitter:title", "twitter:description")}
    assert meta == {"twitter:card": "summary", "twitter:title": title, "twitter:description": "A post about structure."}


def test_robots_txt_points_crawlers_at_the_pages_and_the_sitemap(platform: Platform) -> None:
    with api(platform) as client:
        answer = client.get("/blog/robots.txt")
    assert answer.status_code == 200 and answer.headers["content-type"] == "text/plain; charset=utf-8"
    lines = answer.text.splitlines()
    assert "User-agent: *" in lines and f"Sitemap: {platform.url}/blog/sitemap.xml" in lines
    assert {"Disallow: /api/", "Disallow: /blog/api/", "Disallow: /blog/write"} <= set(lines)
    assert not any(line in ("Disallow: /", "Disallow: /blog/") for line in lines)


# --- when the blog does not answer ----------------------------------------------------------
def test_a_page_of_a_service_that_does_not_answer_is_styled_and_leads_back(open_page: OpenPage, platform: Platform,
                                                                           seeded: list[dict]) -> None:
    """The gateway's own page (the blog's stylesheet is out of reach): its one style block allowed by its hash."""
    page = open_page("phone")
    pid = platform.pid_of("blog")
    os.kill(pid, signal.SIGSTOP)
    try:
        response = page.goto("/blog/?page=2")
    finally:
        os.kill(pid, signal.SIGCONT)
    assert response is not None and response.status == 504
    assert "style-src 'sha256-" in response.headers["content-security-policy"]
    assert page.locator("h1").inner_text() == "This page is unavailable for a moment"
    assert page.locator("section[lang=ko] h2").inner_text() == "이 페이지를 잠시 열 수 없습니다"
    # Styled (the watch fails the test on any CSP violation), light or dark as the system is.
    assert page.evaluate("() => getComputedStyle(document.querySelector('main')).borderTopWidth") == "4px"
    assert background(page) == LIGHT_PAGE
    screenshot(page, "unavailable-phone")
    assert_fits_viewport(page)
    page.emulate_media(color_scheme="dark")
    assert background(page) == DARK_PAGE
    screenshot(page, "unavailable-phone-dark")
    unavailable = response.text()
    wait_until(lambda: httpx.get(f"{platform.url}/blog/api/categories").status_code == 200, what="the blog answering")
    page.get_by_role("link", name="Try again").click()
    page.wait_for_url("**/blog/?page=2")
    assert page.locator("h1").inner_text().startswith("Latest posts")
    # axe reads the same page (injected scripts need the CSP bypassed).
    checked = open_page("desktop", bypass_csp=True, path="/blog/")
    checked.set_content(unavailable)
    assert_accessible(checked)
