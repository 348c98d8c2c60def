"""The blog's server-rendered pages through the gateway, as a client without a browser sees them.

(tests/browser drives the same pages in Chromium.)
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from tests.platform.conftest import PLATFORM_ENV
from tests.platform.harness import Client, Platform

PAGE_PATHS = ("/blog/", "/blog", "/blog/login", "/blog/register", "/blog/write", "/blog/feed.xml", "/blog/sitemap.xml",
              "/blog/robots.txt", "/blog/categories.css", "/blog/static/blog.css", "/blog/static/dark.css",
              "/blog/static/blog.js", "/blog/static/favicon.svg", "/blog/i18n/ko.js")


def test_post_ids_are_never_reused(person: Client) -> None:
    first = person.create_post(title="Here and gone").json()
    assert person.http.delete(f"/blog/api/posts/{first['id']}", headers=person.auth).status_code == 204
    second = person.create_post(title="Newcomer").json()
    assert second["id"] > first["id"]
    assert person.http.get(f"/blog/posts/{first['id']}").status_code == 404


def test_every_page_answers_get_and_head(person: Client, anonymous: Client) -> None:
    post = person.create_post(title="Heads up", category_name="Head Room").json()
    paths = (*PAGE_PATHS, f"/blog/posts/{post['id']}-heads-up", f"/blog/posts/{post['id']}/edit",
             "/blog/categories/head-room", "/blog/categories/head-room/feed.xml", f"/blog/authors/{person.username}")
    for path in paths:
        got = anonymous.http.get(path)
        head = anonymous.http.head(path)
        assert got.status_code == 200 and head.status_code == 200, (path, got.status_code, head.status_code)
        assert head.headers["content-type"] == got.headers["content-type"] and head.content == b"", path
    assert anonymous.http.head("/blog/posts/999999").status_code == 404


def test_a_post_has_one_address_and_the_others_lead_to_it(person: Client, anonymous: Client) -> None:
    post = person.create_post(title="Ünïcode & Spaces: a Title!").json()
    canonical = f"/blog/posts/{post['id']}-unicode-spaces-a-title"
    for path in (f"/blog/posts/{post['id']}", f"/blog/posts/{post['id']}-old-slug"):
        moved = anonymous.http.get(path)
        assert moved.status_code == 301 and moved.headers["location"].endswith(canonical), path
    page = anonymous.http.get(canonical)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<title>Ünïcode &amp; Spaces: a Title! · Titanium blog</title>" in page.text
    origin = str(anonymous.http.base_url).rstrip("/")  # the platform's gateway: titanium up's TITANIUM_PUBLIC_URL
    assert f'<link rel="canonical" href="{origin}{canonical}">' in page.text
    assert anonymous.http.get("/blog/favicon.ico").headers["location"].endswith("/blog/static/favicon.svg")


@pytest.mark.parametrize("path", ["/blog/posts/0", "/blog/posts/99999999999", "/blog/posts/abc", "/blog/categories/none",
                                  "/blog/authors/no%20body", "/blog/nothing-here", "/blog/?page=0", "/blog/?page=x"])
def test_unknown_pages_answer_an_html_404(anonymous: Client, path: str) -> None:
    answer = anonymous.http.get(path)
    assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html"), path
    assert answer.text.count("<h1") == 1 and "Page not found" in answer.text


def test_unknown_api_paths_still_answer_json(anonymous: Client) -> None:
    for method in ("GET", "HEAD"):
        answer = anonymous.http.request(method, "/blog/api/nothing")
        assert answer.status_code in (404, 405) and answer.headers["content-type"] == "application/json", method


def test_markdown_is_rendered_and_sanitised_in_the_page_while_the_api_keeps_it_raw(person: Client, anonymous: Client) -> None:
    content = ("# Title\n\n[docs](https://example.com) [bad](javascript:alert(1))\n\n<script>alert(1)</script>\n\n"
               "<img src=x onerror=alert(1)>\n\n<b style=\"color:red\" onclick=\"alert(1)\">b</b>\n\n```\ncode <here>\n```\n")
    post = person.create_post(title="Marked down", content=content).json()
    assert anonymous.http.get(f"/blog/api/posts/{post['id']}").json()["content"] == content
    page = anonymous.http.get(f"/blog/posts/{post['id']}-marked-down").text
    body = page.split('<div class="content">', 1)[1].split("</div>", 1)[0]
    assert "<h2>Title</h2>" in body
    assert '<a href="https://example.com" rel="nofollow noopener">docs</a>' in body
    assert '<pre tabindex="0"><code>code &lt;here&gt;' in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "&lt;img src=x onerror=alert(1)&gt;" in body
    tags = Elements()
    tags.feed(body)
    assert {tag for tag, _ in tags.found} <= {"h2", "p", "a", "pre", "code"}, tags.found
    attributes = [(name, value) for _, pairs in tags.found for name, value in pairs]
    assert all(name in ("href", "rel", "tabindex") for name, _ in attributes), attributes
    assert all(value and value.startswith("https:") for name, value in attributes if name == "href"), attributes


class Elements(HTMLParser):
    """Every start tag in a piece of HTML, with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def test_the_feeds_parse_and_link_to_the_pages(person: Client, anonymous: Client) -> None:
    person.create_post(title="Fed \x01 up", content="Control \x02 characters stay out of the XML.", category_name="Feeds")
    for path in ("/blog/feed.xml", "/blog/categories/feeds/feed.xml"):
        answer = anonymous.http.get(path)
        assert answer.headers["content-type"].startswith("application/atom+xml")
        feed = ET.fromstring(answer.content)  # noqa: S314 - the platform's own answer
        entries = feed.findall("{http://www.w3.org/2005/Atom}entry")
        assert entries, path
        href = entries[0].find("{http://www.w3.org/2005/Atom}link").get("href")
        assert href.startswith(anonymous.http.base_url.scheme + "://")
        assert anonymous.http.get(urlsplit(href).path).status_code == 200
    sitemap = ET.fromstring(anonymous.http.get("/blog/sitemap.xml").content)  # noqa: S314
    assert len(sitemap) >= 2


def test_the_sitemap_lists_the_pages_of_tags_with_public_posts_only(person: Client, anonymous: Client) -> None:
    mark = uuid.uuid4().hex[:8]
    public = person.create_post(title="Tagged in the open", tags=[f"Open {mark}", f"열린 {mark}"]).json()
    person.create_post(title="Tagged in private", status="draft", tags=[f"Hidden {mark}"])
    gone = person.create_post(title="Tagged then deleted", tags=[f"Gone {mark}"]).json()
    assert person.http.delete(f"/blog/api/posts/{gone['id']}", headers=person.auth).status_code == 204

    sitemap = ET.fromstring(anonymous.http.get("/blog/sitemap.xml").content)  # noqa: S314 - our own answer
    paths = {urlsplit(loc.text or "").path for loc in sitemap.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")}
    tag_paths = {path for path in paths if path.startswith("/blog/tags/") and mark in unquote(path)}
    assert {unquote(path) for path in tag_paths} == {f"/blog/tags/{tag['slug']}" for tag in public["tags"]}
    for path in tag_paths:
        page = anonymous.http.get(path)
        assert page.status_code == 200 and "Tagged in the open" in page.text, path


def test_the_site_name_description_and_language_are_settings(tmp_path) -> None:
    """The seed's site, as it was: "DvwN's Blog", in Korean for a reader whose browser asks for no language of ours."""
    settings = {**PLATFORM_ENV, "TITANIUM_SITE_NAME": "DvwN's Blog", "TITANIUM_SITE_LANGUAGE": "ko",
                "TITANIUM_SITE_DESCRIPTION": "클라우드 네이티브 플랫폼을 만들며 배운 것들"}
    platform = Platform(tmp_path, settings).start()
    try:
        writer = Client(platform.url).signed_up()
        post = writer.create_post(title="첫 글").json()
        with httpx.Client(base_url=platform.url, timeout=15) as client:
            home = client.get("/blog/", headers={"Accept-Language": "fr"}).text
            assert '<html lang="ko">' in home and "<title>DvwN&#39;s Blog</title>" in home
            assert '<meta name="description" content="클라우드 네이티브 플랫폼을 만들며 배운 것들">' in home
            assert "DvwN&#39;s Blog</a>" in home  # the header's name
            english = client.get("/blog/", headers={"Accept-Language": "en-US"}).text
            assert '<html lang="en">' in english and "Latest posts" in english
            page = client.get(f"/blog/posts/{post['id']}", follow_redirects=True).text
            assert "<title>첫 글 · DvwN&#39;s Blog</title>" in page and '"publisher":' in page
            feed = ET.fromstring(client.get("/blog/feed.xml").content)  # noqa: S314 - our own answer
            assert feed.findtext("{http://www.w3.org/2005/Atom}title") == "DvwN's Blog"
    finally:
        assert platform.stop() == 0, platform.output()


def test_pages_vary_with_the_language_and_the_switches(anonymous: Client) -> None:
    for path in ("/blog/", "/blog/login", "/blog/no/such/page"):
        vary = {name.strip().lower() for name in anonymous.http.get(path).headers["vary"].split(",")}
        assert {"accept-language", "cookie"} <= vary, path
    korean = anonymous.http.get("/blog/", headers={"Accept-Language": "ko-KR,ko;q=0.9"}).text
    assert '<html lang="ko">' in korean and '<script src="/blog/i18n/ko.js?v=' in korean
    assert "/blog/i18n/" not in anonymous.http.get("/blog/", headers={"Accept-Language": "en"}).text
