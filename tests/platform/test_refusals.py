"""What the platform refuses, and how: a clear 4xx in JSON with a `detail`, never a 500."""

import httpx
import jwt
import pytest

from tests.platform.conftest import LOGINS_PER_ADDRESS
from tests.platform.harness import Client, Platform, unique
from titanium.core import tokens


@pytest.fixture(scope="module")
def person(platform: Platform) -> Client:
    """One writer for the module's tests: signing up (two password hashes) is most of a refusal test's cost,
    and each test's posts and attempts are its own."""
    return Client(platform.url).signed_up()


def assert_error(answer: httpx.Response, status: int) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert "detail" in body
    assert "Traceback" not in answer.text
    return body


def test_writes_without_a_valid_token_are_401(platform, person):
    post_id = person.create_post().json()["id"]
    nobody = Client(platform.url)
    body = {"title": "t", "content": "c", "category_name": "x"}
    for headers in ({}, {"Authorization": "Bearer not.a.token"}, {"Authorization": "Basic abc"},
                    {"Authorization": f"Bearer {person.token}x"}):
        assert_error(nobody.http.post("/blog/api/posts", json=body, headers=headers), 401)
        assert_error(nobody.http.patch(f"/blog/api/posts/{post_id}", json={"title": "x"}, headers=headers), 401)
        assert_error(nobody.http.delete(f"/blog/api/posts/{post_id}", headers=headers), 401)
    assert person.http.get(f"/blog/api/posts/{post_id}").json()["title"] == "A title"


def test_only_the_author_changes_or_deletes_a_post(platform, person):
    post_id = person.create_post().json()["id"]
    stranger = Client(platform.url).signed_up()
    assert_error(stranger.http.patch(f"/blog/api/posts/{post_id}", json={"title": "mine"}, headers=stranger.auth), 403)
    assert_error(stranger.http.delete(f"/blog/api/posts/{post_id}", headers=stranger.auth), 403)
    assert person.http.get(f"/blog/api/posts/{post_id}").json()["title"] == "A title"
    assert_error(stranger.http.patch("/blog/api/posts/987654", json={"title": "x"}, headers=stranger.auth), 404)
    assert_error(stranger.http.delete("/blog/api/posts/987654", headers=stranger.auth), 404)


@pytest.mark.parametrize("fields", [
    {"title": ""},
    {"title": "   "},
    {"title": "x" * 121},
    {"content": ""},
    {"content": "   "},
    {"content": "x" * 20_001},
    {"category_name": ""},
    {"category_name": "x" * 51},
    {"category_name": None, "category_id": 987_654},
    {"category_name": None},
    {"title": None},
    {"title": 12},
    {"category_name": None, "category_id": True},
    {"category_name": None, "category_id": "1"},
    {"title": "nul\x00byte"},
    {"content": "nul\x00byte"},
    {"category_name": "nul\x00byte"},
    # Names whose category page no link could reach (issue 16, item 7).
    {"category_name": "."},
    {"category_name": ".."},
    {"category_name": "a/../../api"},
    {"category_name": "x/feed.xml"},
    {"category_name": "zero\u200bwidth"},
    {"category_name": "bell\x07"},
])
def test_each_invalid_post_field_is_422_and_nothing_is_written(person, fields):
    before = len(person.http.get("/blog/api/posts", params={"limit": 100}).json())
    body = {"title": "A title", "content": "Some content", "category_name": "Notes", **fields}
    body = {key: value for key, value in body.items() if value is not None or key == "title"}
    assert_error(person.http.post("/blog/api/posts", json=body, headers=person.auth), 422)
    assert len(person.http.get("/blog/api/posts", params={"limit": 100}).json()) == before


def test_an_invalid_partial_update_is_422_and_changes_nothing(person):
    post = person.create_post().json()
    for change in ({"title": ""}, {"content": "x" * 20_001}, {"category_id": 987_654}, {"title": None},
                   {"category_name": ".."}):
        assert_error(person.http.patch(f"/blog/api/posts/{post['id']}", json=change, headers=person.auth), 422)
    assert person.http.get(f"/blog/api/posts/{post['id']}").json() == post


def test_422_names_the_field(person):
    detail = assert_error(person.create_post(title=""), 422)["detail"]
    assert detail[0]["loc"] == ["body", "title"]
    assert "input" not in detail[0]
    unknown = assert_error(person.http.post("/blog/api/posts", headers=person.auth,
                                            json={"title": "t", "content": "c", "category_id": 987_654}), 422)["detail"]
    assert unknown[0]["loc"] == ["body", "category_id"] and "987654" in unknown[0]["msg"]


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "ten"}, {"category": "a\x00b"}])
def test_bad_list_parameters_are_422(anonymous, query):
    assert_error(anonymous.http.get("/blog/api/posts", params=query), 422)


def test_a_body_that_is_not_json_is_422(person):
    answer = person.http.post("/blog/api/posts", content=b"{not json", headers={**person.auth,
                                                                               "Content-Type": "application/json"})
    assert_error(answer, 422)


@pytest.mark.parametrize("fields", [
    {"username": "ab"},
    {"username": "has space"},
    {"username": "x" * 33},
    {"email": "not-an-email"},
    {"password": "short"},
    {"password": " " * 8},
    {"password": None},
])
def test_each_invalid_registration_field_is_422(anonymous, fields):
    name = unique()
    body = {"username": name, "email": f"{name}@example.com", "password": "long enough", **fields}
    assert_error(anonymous.http.post("/api/register", json={k: v for k, v in body.items() if v is not None}), 422)


@pytest.mark.parametrize("password", [" " * 8, "\t" * 12, " \u00a0\u3000\n" * 4, "   short   ", "a b c d e f g"])
def test_a_password_of_whitespace_or_padded_to_the_minimum_is_422_saying_why(anonymous, password):
    name = unique()
    answer = anonymous.http.post("/api/register", json={"username": name, "email": f"{name}@example.com",
                                                        "password": password})
    body = assert_error(answer, 422)
    assert [error["loc"] for error in body["detail"]] == [["body", "password"]]
    assert "whitespace does not count" in body["detail"][0]["msg"]
    assert anonymous.http.get(f"/api/users/{name}").status_code == 404


def test_a_taken_username_is_409_whatever_its_case(anonymous, person):
    answer = anonymous.http.post("/api/register", json={"username": person.username.upper(),
                                                        "email": f"other{unique()}@example.com",
                                                        "password": "long enough"})
    assert_error(answer, 409)


def test_a_wrong_password_or_unknown_user_is_401_in_the_seed_shape(platform, person):
    for credentials in ({"username": person.username, "password": "wrong password"},
                        {"username": unique(), "password": "whatever it is"}):
        body = assert_error(person.http.post("/api/login", json=credentials), 401)
        assert body["status"] == "failed" and body["message"]


def test_verify_without_or_with_a_malformed_header_is_400_and_a_bad_token_401(anonymous, person):
    assert_error(anonymous.http.get("/api/verify"), 400)
    assert_error(anonymous.http.get("/api/verify", headers={"Authorization": "Token abc"}), 400)
    assert_error(anonymous.http.get("/api/verify", headers={"Authorization": "Bearer abc.def.ghi"}), 401)
    assert_error(anonymous.http.get("/api/verify", headers={"Authorization": f"Bearer {person.token[:-2]}"}), 401)


def test_too_many_logins_for_one_username_are_429_with_retry_after(platform):
    victim = Client(platform.url)
    assert victim.register().status_code == 201
    statuses = [victim.login("wrong password").status_code for _ in range(5)]
    assert statuses == [401] * 5
    limited = victim.login()  # even the right password waits now
    body = assert_error(limited, 429)
    assert body["status"] == "failed"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60


def test_too_many_logins_from_one_address_are_429(platform):
    # Every login from one address, each for another username: only the
    # per-address limit (LOGINS_PER_ADDRESS a minute here) can refuse. The gateway
    # passes the address on in X-Forwarded-For; another address is not refused.
    client = Client(platform.url)
    statuses = []
    for _ in range(LOGINS_PER_ADDRESS + 1):
        statuses.append(client.http.post("/api/login", json={"username": unique(), "password": "x"}).status_code)
    assert statuses == [401] * LOGINS_PER_ADDRESS + [429]
    assert Client(platform.url).http.post("/api/login", json={"username": unique(), "password": "x"}).status_code == 401


@pytest.mark.parametrize("spelling", ["%20{id}", "+{id}", "{id}%20", "0{id}x", "%EF%BC%91"])
def test_a_post_id_is_digits_alone(person, spelling):
    post_id = person.create_post().json()["id"]
    path = f"/blog/api/posts/{spelling.format(id=post_id)}"
    assert person.http.delete(path, headers=person.auth).status_code in (404, 422)
    assert person.http.get(f"/blog/api/posts/{post_id}").status_code == 200, "the post is still there"


def test_a_token_whose_user_id_is_not_a_number_is_401_not_500(platform, person):
    # Signed with the platform's own key (which a client never has): only the claims' shape is wrong.
    key = tokens.load_private_key((platform.data_dir / "keys" / "jwt-ed25519.pem").read_bytes())
    claims = jwt.decode(person.token, options={"verify_signature": False})
    forged = jwt.encode({**claims, "user_id": str(claims["user_id"])}, key, algorithm=tokens.ALGORITHM,
                        headers=jwt.get_unverified_header(person.token))
    assert_error(person.http.post("/blog/api/posts", headers={"Authorization": f"Bearer {forged}"},
                                  json={"title": "t", "content": "c", "category_name": "x"}), 401)


def test_a_trailing_slash_is_a_404_never_a_redirect_to_the_callers_host(anonymous):
    answer = anonymous.http.post("/api/register/", headers={"Host": "evil.example"}, json={})
    assert_error(answer, 404)
    assert "location" not in answer.headers


def test_unknown_paths_and_methods_are_json_404_and_405(anonymous):
    assert_error(anonymous.http.get("/no/such/page"), 404)
    assert_error(anonymous.http.get("/blog/api/nothing-here"), 404)
    assert_error(anonymous.http.delete("/api/login"), 405)
    assert_error(anonymous.http.put("/stats"), 405)
    # A post's address with a method no route of it takes: 405 saying which it takes (not the API's catch-all 404).
    wrong = anonymous.http.put("/blog/api/posts/1", json={"title": "x"})
    assert_error(wrong, 405)
    assert {method.strip() for method in wrong.headers["allow"].split(",")} >= {"GET", "PATCH", "DELETE"}


def test_a_body_over_the_limit_is_413(person):
    huge = b'{"title": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    answer = person.http.post("/blog/api/posts", content=huge,
                              headers={**person.auth, "Content-Type": "application/json"})
    assert_error(answer, 413)

    def chunks():
        for _ in range(300):
            yield b"x" * 4096

    streamed = person.http.post("/blog/api/posts", content=chunks(),
                                headers={**person.auth, "Content-Type": "application/json"})
    assert_error(streamed, 413)


INTERNAL_PATHS = [
    ("POST", "/users/verify-credentials"),
    ("POST", "/api/users/verify-credentials"),
    ("POST", "/internal/credentials/verify"),
    ("POST", "/api/internal/credentials/verify"),
    ("POST", "/api/users/..%2Finternal%2Fcredentials%2Fverify"),
    ("POST", "/api/users/%2e%2e/internal/credentials/verify"),
    ("GET", "/api/users/..%2Finternal%2Fcredentials%2Fverify"),
    ("GET", "/api/users/%2e%2e"),
    ("GET", "/api/users/%252e%252e%252Finternal%252Fcredentials%252Fverify"),
    ("POST", "/blog/../internal/credentials/verify"),
    ("POST", "/blog/%2e%2e/internal/credentials/verify"),
    ("POST", "/blog/..%2F..%2Finternal%2Fcredentials%2Fverify"),
    ("POST", "//internal/credentials/verify"),
    ("POST", "/api/register/../../internal/credentials/verify"),
]


@pytest.mark.parametrize(("method", "path"), INTERNAL_PATHS)
def test_no_spelling_of_a_path_reaches_the_credential_check(platform, person, method, path):
    request = person.http.build_request(method, httpx.URL(platform.url + path),
                                        json={"username": person.username, "password": "correct horse battery"})
    request.url = request.url.copy_with(raw_path=path.encode())  # sent exactly as written, not normalised
    answer = person.http.send(request)
    assert answer.status_code in (404, 405), f"{method} {path} -> {answer.status_code} {answer.text}"
    assert person.username not in answer.text
