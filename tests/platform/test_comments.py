"""Comments through the gateway: written, listed, counted on the post, deleted by whom may, and gone with their post."""

from __future__ import annotations

from tests.platform.harness import Client, wait_until


def comments_of(client: Client, post_id: int) -> list[dict]:
    answer = client.http.get(f"/blog/api/posts/{post_id}/comments")
    assert answer.status_code == 200, answer.text
    return answer.json()


def comment_count(client: Client, post_id: int) -> int | None:
    answer = client.http.get(f"/blog/api/posts/{post_id}")
    return answer.json()["comment_count"] if answer.status_code == 200 else None


def test_a_comment_is_listed_counted_on_its_post_and_deleted_by_the_post_author(platform, person, anonymous):
    post = person.create_post(title="Talk to me").json()
    reader = Client(platform.url).signed_up()
    path = f"/blog/api/posts/{post['id']}/comments"
    assert anonymous.http.post(path, json={"body": "hi"}).status_code == 401
    written = reader.http.post(path, json={"body": "Thanks, *really*"}, headers=reader.auth)
    assert written.status_code == 201, written.text
    comment = written.json()
    assert comment["author"] == reader.username and comment["html"] == "<p>Thanks, <em>really</em></p>\n"
    assert [c["id"] for c in comments_of(anonymous, post["id"])] == [comment["id"]]
    # The count reaches the blog through the comments service's outbox.
    wait_until(lambda: comment_count(anonymous, post["id"]) == 1, what="the post's comment count to be 1")

    stranger = Client(platform.url).signed_up()
    assert stranger.http.delete(f"{path}/{comment['id']}", headers=stranger.auth).status_code == 403
    assert person.http.delete(f"{path}/{comment['id']}", headers=person.auth).status_code == 204
    assert comments_of(anonymous, post["id"]) == []
    wait_until(lambda: comment_count(anonymous, post["id"]) == 0, what="the post's comment count to be 0")


def test_the_internal_routes_are_not_public(anonymous):
    assert anonymous.http.put("/internal/posts/1/comment-count", json={"count": 9, "version": 99}).status_code == 404
    assert anonymous.http.delete("/internal/posts/1/comments").status_code == 404


def test_a_comment_on_an_unknown_post_is_404(person):
    answer = person.http.post("/blog/api/posts/999999/comments", json={"body": "anyone?"}, headers=person.auth)
    assert answer.status_code == 404 and answer.json()["detail"]


def test_a_deleted_post_takes_its_comments(platform, person, anonymous):
    post = person.create_post(title="Short-lived").json()
    reader = Client(platform.url).signed_up()
    path = f"/blog/api/posts/{post['id']}/comments"
    for body in ("one", "two"):
        assert reader.http.post(path, json={"body": body}, headers=reader.auth).status_code == 201
    assert person.http.delete(f"/blog/api/posts/{post['id']}", headers=person.auth).status_code == 204
    # The blog's outbox tells the comments service, which removes them.
    wait_until(lambda: comments_of(anonymous, post["id"]) == [], what="the deleted post's comments to go")
    assert reader.http.post(path, json={"body": "three"}, headers=reader.auth).status_code == 404


def test_the_post_page_shows_its_comments_oldest_first_with_markup_inert(platform, person, anonymous):
    post = person.create_post(title="Page with comments").json()
    path = f"/blog/api/posts/{post['id']}/comments"
    for body in ("First!", "<script>alert('x')</script> **second**"):
        assert person.http.post(path, json={"body": body}, headers=person.auth).status_code == 201
    page = anonymous.http.get(f"/blog/posts/{post['id']}", follow_redirects=True)
    assert page.status_code == 200
    html = page.text
    assert "2 comments" in html
    assert html.index("First!") < html.index("<strong>second</strong>")
    assert "<script>alert" not in html and "&lt;script&gt;alert('x')&lt;/script&gt;" in html
