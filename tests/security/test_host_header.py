"""Issue 16 item 6: the Host header is never written into absolute URLs.

Before, the feeds, the sitemap, robots.txt, canonical links, `og:url` and the
post's JSON-LD took their origin from `X-Forwarded-Host` or `Host`: with
`Host: evil.example` they linked to `http://evil.example/...`, and a request
to the blog with no Host at all linked to the blog's internal address. Now
they link to TITANIUM_PUBLIC_URL (which `titanium up` sets to its gateway).
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest

from tests.platform.conftest import PLATFORM_ENV
from tests.platform.harness import Client, Platform, Platforms, unique

HOSTILE = "evil.example"
# Every page that writes an absolute link.
LINKED = ("/blog/", "/blog/feed.xml", "/blog/sitemap.xml", "/blog/robots.txt")
HOSTILE_HEADERS = (
    {"Host": HOSTILE},
    {"X-Forwarded-Host": HOSTILE},
    {"X-Forwarded-Host": HOSTILE, "X-Forwarded-Proto": "https"},
    {"Host": f"{HOSTILE}:8443", "X-Forwarded-Host": f"{HOSTILE}, another.example"},
)


@pytest.fixture(scope="module")
def platform(platforms: Platforms) -> Platform:
    return platforms.shared(env=PLATFORM_ENV)


@pytest.fixture(scope="module")
def linked_paths(platform: Platform) -> list[str]:
    """The pages above, a post's page (JSON-LD, og:url) and its category's feed."""
    writer = Client(platform.url).signed_up()
    made = writer.create_post(title="Links", category_name=unique("cat"))
    assert made.status_code == 201, made.text
    post = made.json()
    return [*LINKED, f"/blog/posts/{post['id']}", f"/blog/categories/{post['category']['slug']}/feed.xml"]


def _pages(fetch, paths: list[str]) -> dict[str, str]:
    """Each page's text, following the post's redirect to its canonical address."""
    return {path: fetch(path) for path in paths}


def _assert_links_public(pages: dict[str, str], public: str, *foreign: str) -> None:
    for path, text in pages.items():
        assert f"{public}/blog/" in text, f"{path} has no link to the public address {public}"
        for other in foreign:
            assert other not in text, f"{path} links to {other}"


@pytest.mark.parametrize("headers", HOSTILE_HEADERS, ids=lambda headers: ",".join(f"{k}={v}" for k, v in headers.items()))
def test_a_hostile_host_header_is_never_linked_to(platform: Platform, linked_paths: list[str], headers: dict[str, str]):
    reader = Client(platform.url)

    def fetch(path: str) -> str:
        answer = reader.http.get(path, headers=headers, follow_redirects=True)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:200])
        return answer.text

    _assert_links_public(_pages(fetch, linked_paths), platform.url, HOSTILE)


def _without_host(address: str, path: str) -> str:
    """An HTTP/1.0 request with no Host header at all (httpx always sends one): the answer's text."""
    host, port = urlsplit(address).hostname, urlsplit(address).port
    assert host is not None and port is not None
    with socket.create_connection((host, port), timeout=15) as connection:
        connection.sendall(f"GET {path} HTTP/1.0\r\nAccept: */*\r\n\r\n".encode())
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == b"200", (path, head[:200])
    return body.decode()


def test_with_no_host_the_links_are_public_not_the_blogs_internal_address(platform: Platform, linked_paths: list[str]):
    blog = platform.service_url("blog")
    # The post's page redirects to its canonical address: ask for that one directly.
    canonical = [path for path in linked_paths if not path.startswith("/blog/posts/")]
    for base in (platform.url, blog):  # through the gateway, and straight to the blog as a proxy would
        _assert_links_public(_pages(lambda path, base=base: _without_host(base, path), canonical), platform.url,
                             blog, HOSTILE)
