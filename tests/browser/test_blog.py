"""The blog's pages in a real browser, at desktop (1280x800) and phone (390x844) sizes.

Readers page, filter, open posts and read feeds; writers register, log in,
write Markdown, edit and delete; failures read as sentences; nothing a
person types runs as script; axe finds nothing serious; no page is wider
than the screen. Every test leaves a screenshot in tests/browser/screenshots/.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.browser.conftest import assert_accessible, assert_fits_viewport, screenshot
from tests.platform.harness import PASSWORD, Client, Platform, unique

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
    page.evaluate("() => { const form = document.getElementById('post-form'); form.requestSubmit(); form.requestSubmit(); }")
    expect(page.locator("#submit")).to_be_disabled()
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
