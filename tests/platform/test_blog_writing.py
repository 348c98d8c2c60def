"""Drafts, scheduling, preview and image uploads through the gateway (services/blog/writing_routes.py).

A draft or a scheduled post is its author's alone: every other reader, and
every list, feed, sitemap and page, answers as if it were not there.
"""

from __future__ import annotations

import io
import re
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from tests.platform.harness import Client, Platform, wait_until


def _draft(person: Client, **fields) -> dict:
    answer = person.create_post(status="draft", **fields)
    assert answer.status_code == 201, answer.text
    return answer.json()


def _public_places(anonymous: Client, person: Client) -> list[str]:
    """Everything a reader can see of the blog's posts, as text."""
    return [anonymous.http.get(path).text for path in (
        "/blog/api/posts?limit=100", "/blog/", "/blog/feed.xml", "/blog/sitemap.xml",
        f"/blog/authors/{person.username}", "/blog/categories/drafting", "/blog/categories/drafting/feed.xml")]


def test_a_draft_is_its_authors_alone(person: Client, anonymous: Client, platform: Platform) -> None:
    # One public post keeps the author's page and the category's page there.
    person.create_post(title="Out in the open", category_name="Drafting")
    draft = _draft(person, title="Secret plans zq7", category_name="Drafting")
    assert draft["status"] == "draft" and draft["published_at"] is None
    other = Client(platform.url).signed_up()
    for reader in (anonymous, other):
        assert reader.http.get(f"/blog/api/posts/{draft['id']}", headers=reader.auth if reader.token else {}).status_code == 404
        assert reader.http.get(f"/blog/posts/{draft['id']}").status_code == 404
    assert other.http.get(f"/blog/api/me/posts/{draft['id']}", headers=other.auth).status_code == 404
    assert all("Secret plans zq7" not in place for place in _public_places(anonymous, person))
    mine = person.http.get(f"/blog/api/me/posts/{draft['id']}", headers=person.auth)
    assert mine.status_code == 200 and mine.json()["content"] == "Some content"
    assert [post["id"] for post in person.http.get("/blog/api/me/drafts", headers=person.auth).json()["posts"]] == [draft["id"]]
    assert other.http.get("/blog/api/me/drafts", headers=other.auth).json() == {"posts": [], "next_cursor": None}
    assert anonymous.http.get("/blog/api/me/drafts").status_code == 401


def test_publish_and_unpublish_are_the_authors(person: Client, anonymous: Client, platform: Platform) -> None:
    draft = _draft(person, title="Soon to be read")
    other = Client(platform.url).signed_up()
    refused = other.http.post(f"/blog/api/posts/{draft['id']}/publish", headers=other.auth)
    assert refused.status_code == 403 and "author" in refused.json()["detail"]
    assert anonymous.http.post(f"/blog/api/posts/{draft['id']}/publish").status_code == 401
    assert person.http.post("/blog/api/posts/99999999/publish", headers=person.auth).status_code == 404
    anonymous.http.get("/blog/api/posts?limit=100")  # cached without it: publishing must drop that
    published = person.http.post(f"/blog/api/posts/{draft['id']}/publish", headers=person.auth)
    assert published.status_code == 200 and published.json()["status"] == "published"
    assert anonymous.http.get(f"/blog/api/posts/{draft['id']}").status_code == 200
    assert draft["id"] in [post["id"] for post in anonymous.http.get("/blog/api/posts?limit=100").json()]
    unpublished = person.http.post(f"/blog/api/posts/{draft['id']}/unpublish", headers=person.auth)
    assert unpublished.status_code == 200 and unpublished.json()["status"] == "draft"
    assert anonymous.http.get(f"/blog/api/posts/{draft['id']}").status_code == 404
    assert draft["id"] not in [post["id"] for post in anonymous.http.get("/blog/api/posts?limit=100").json()]
    # Through PATCH too: the text and the status in one change.
    patched = person.http.patch(f"/blog/api/posts/{draft['id']}", headers=person.auth,
                                json={"content": "Now final", "status": "published"})
    assert patched.status_code == 200 and patched.json()["status"] == "published"
    assert anonymous.http.get(f"/blog/api/posts/{draft['id']}").json()["content"] == "Now final"


def test_a_scheduled_post_appears_on_the_lists_when_its_time_comes(person: Client, anonymous: Client) -> None:
    # Far enough ahead that the four requests below are answered before it, even on a busy machine.
    at = datetime.now(UTC) + timedelta(seconds=8)
    post = person.create_post(title="Scheduled kx9", publish_at=at.isoformat()).json()
    assert post["status"] == "published" and post["published_at"] is not None
    # Until then the lists (now cached) and the post are as if it were not there; its author sees it.
    assert post["id"] not in [each["id"] for each in anonymous.http.get("/blog/api/posts?limit=100").json()]
    assert person.http.get(f"/blog/api/me/posts/{post['id']}", headers=person.auth).status_code == 200
    scheduled = person.http.get("/blog/api/me/scheduled", headers=person.auth).json()["posts"]
    assert [each["id"] for each in scheduled] == [post["id"]]
    wait_until(lambda: post["id"] in [each["id"] for each in anonymous.http.get("/blog/api/posts?limit=100").json()],
               what="the scheduled post on the cached list")
    assert "Scheduled kx9" in anonymous.http.get("/blog/feed.xml").text


@pytest.mark.parametrize("fields", [
    {"status": "draft", "publish_at": "2999-01-01T00:00:00Z"},
    {"publish_at": "2001-01-01T00:00:00Z"},
    {"publish_at": "2999-01-01T00:00:00"},
    {"status": "scheduled"},
])
def test_publication_fields_are_checked(person: Client, fields: dict) -> None:
    answer = person.create_post(**fields)
    assert answer.status_code == 422 and answer.json()["detail"], answer.text


def test_scheduling_an_existing_post_needs_a_future_time(person: Client) -> None:
    draft = _draft(person)
    past = person.http.post(f"/blog/api/posts/{draft['id']}/publish", headers=person.auth,
                            json={"publish_at": "2001-01-01T00:00:00+00:00"})
    assert past.status_code == 422
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    scheduled = person.http.post(f"/blog/api/posts/{draft['id']}/publish", headers=person.auth, json={"publish_at": later})
    assert scheduled.status_code == 200 and scheduled.json()["published_at"] is not None


def test_preview_is_what_the_page_shows(person: Client, anonymous: Client) -> None:
    content = "# Plan\n\nSome **bold** text.\n\n```python\nprint('hi')\n```\n\n<script>alert(1)</script>\n"
    preview = person.http.post("/blog/api/preview", headers=person.auth, json={"content": content})
    assert preview.status_code == 200
    html = preview.json()["html"]
    assert "<strong>bold</strong>" in html and "<script>" not in html
    post = person.create_post(title="Previewed", content=content).json()
    page = anonymous.http.get(f"/blog/posts/{post['id']}-previewed").text
    assert html in page
    assert anonymous.http.post("/blog/api/preview", json={"content": content}).status_code == 401
    assert person.http.post("/blog/api/preview", headers=person.auth, json={"content": ""}).status_code == 422


# --- images --------------------------------------------------------------------------------
def _png(width: int = 1200, height: int = 800) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(out, "PNG")
    return out.getvalue()


def _bomb() -> bytes:
    """A PNG declaring 100,000 x 100,000 pixels in a few hundred bytes (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")
    header = (100_000).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")


def _upload(person: Client, data: bytes, name: str = "photo.png", kind: str = "image/png"):
    return person.http.post("/blog/api/images", headers=person.auth, files={"file": (name, data, kind)})


def _stored(platform: Platform) -> set[str]:
    folder = Path(platform.data_dir) / "media"
    return {path.name for path in folder.iterdir()} if folder.exists() else set()


def test_an_uploaded_image_is_shown_on_the_post(person: Client, anonymous: Client) -> None:
    answer = _upload(person, _png())
    assert answer.status_code == 201, answer.text
    image = answer.json()
    assert (image["width"], image["height"]) == (1200, 800) and image["content_type"] == "image/webp"
    assert image["markdown"] == f"![]({image['url']})"
    served = anonymous.http.get(image["url"])
    assert served.status_code == 200 and served.headers["content-type"] == "image/webp"
    assert "immutable" in served.headers["cache-control"] and served.content[:4] == b"RIFF"
    assert anonymous.http.head(image["url"]).status_code == 200
    post = person.create_post(title="With a picture", content=f"Look:\n\n![Blue sky]({image['url']})\n").json()
    page = anonymous.http.get(f"/blog/posts/{post['id']}-with-a-picture")
    tag = re.search(r"<img [^>]*alt=\"Blue sky\"[^>]*>", page.text)
    assert tag is not None
    for attribute in (f'src="{image["url"]}"', 'width="1200"', 'height="800"', 'loading="lazy"'):
        assert attribute in tag[0], tag[0]
    assert f'<meta property="og:image" content="{platform_origin(anonymous)}{image["url"]}">' in page.text
    assert "img-src 'self' https:" in page.headers["content-security-policy"]
    assert f'"image":"{platform_origin(anonymous)}{image["url"]}"' in page.text.replace(" ", "")  # JSON-LD


def platform_origin(client: Client) -> str:
    return str(client.http.base_url).rstrip("/")


@pytest.mark.parametrize(("data", "name", "status"), [
    (b"just some text, not an image" * 10, "photo.png", 415),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "drawing.svg", 415),
    (_bomb(), "bomb.png", 413),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "cut.png", 415),
])
def test_what_is_not_an_image_is_refused_and_nothing_is_stored(person: Client, platform: Platform, data: bytes,
                                                               name: str, status: int) -> None:
    before = _stored(platform)
    answer = _upload(person, data, name)
    assert answer.status_code == status and answer.json()["detail"], answer.text
    assert _stored(platform) == before


def test_a_50_mb_upload_is_refused_before_it_is_read(person: Client, platform: Platform) -> None:
    before = _stored(platform)
    answer = _upload(person, b"\0" * (50 * 1024 * 1024), "huge.png")
    assert answer.status_code == 413 and answer.json()["detail"]
    assert _stored(platform) == before


def test_uploads_need_an_account_and_a_file(person: Client, anonymous: Client) -> None:
    assert _upload(anonymous, _png(10, 10)).status_code == 401
    assert person.http.post("/blog/api/images", headers=person.auth, data={"nothing": "here"}).status_code == 422
    assert anonymous.http.get("/blog/media/not-an-image.webp").status_code == 404
    assert anonymous.http.get("/blog/media/" + "0" * 64 + "-10x10.webp").status_code == 404
