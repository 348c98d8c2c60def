"""A person's whole journey through the gateway, as the seed's clients made it."""

from tests.platform.harness import Client, unique


def test_register_login_write_read_update_delete(platform):
    person = Client(platform.url)
    registered = person.register()
    assert registered.status_code == 201
    assert registered.json() == {"id": registered.json()["id"], "username": person.username,
                                 "email": f"{person.username}@example.com"}

    login = person.login()
    assert login.status_code == 200
    body = login.json()
    assert body["status"] == "success" and body["token"] == body["access_token"]
    assert body["token_type"] == "bearer" and body["expires_in"] > 0

    verified = person.http.get("/api/verify", headers=person.auth)
    assert verified.status_code == 200
    claims = verified.json()["data"]
    assert verified.json()["status"] == "success"
    assert claims["username"] == person.username and claims["user_id"] == registered.json()["id"]
    assert claims["exp"] > claims["iat"]

    created = person.create_post(title="My first post", content="Hello\nworld", category_name="Journey Notes")
    assert created.status_code == 201
    post = created.json()
    assert post["title"] == "My first post" and post["content"] == "Hello\nworld"
    assert post["author"] == person.username
    assert post["category"]["name"] == "Journey Notes" and post["category"]["slug"] == "journey-notes"
    assert {"id", "created_at", "updated_at"} <= post.keys()

    read = person.http.get(f"/blog/api/posts/{post['id']}")
    assert read.status_code == 200 and read.json() == post

    listed = person.http.get("/blog/api/posts", params={"category": "journey-notes"}).json()
    assert [p["id"] for p in listed] == [post["id"]]
    assert listed[0]["excerpt"] == "Hello world"

    categories = {c["slug"]: c for c in person.http.get("/blog/api/categories").json()}
    assert categories["journey-notes"]["post_count"] == 1
    assert set(categories["journey-notes"]) >= {"id", "name", "slug", "color", "post_count"}

    updated = person.http.patch(f"/blog/api/posts/{post['id']}", json={"title": "Renamed"}, headers=person.auth)
    assert updated.status_code == 200
    assert updated.json()["title"] == "Renamed" and updated.json()["content"] == "Hello\nworld"
    assert person.http.get(f"/blog/api/posts/{post['id']}").json()["title"] == "Renamed"

    deleted = person.http.delete(f"/blog/api/posts/{post['id']}", headers=person.auth)
    assert deleted.status_code == 204 and deleted.content == b""
    gone = person.http.get(f"/blog/api/posts/{post['id']}")
    assert gone.status_code == 404 and gone.json() == {"detail": "post not found"}
    slugs = {c["slug"] for c in person.http.get("/blog/api/categories").json()}
    assert "journey-notes" not in slugs, "an emptied category disappears"


def test_the_seed_ui_registers_through_api_users_and_reads_accounts(platform):
    person = Client(platform.url)
    name = unique()
    answer = person.http.post("/api/users", json={"username": name, "email": f"{name}@example.com",
                                                   "password": "long enough"})
    assert answer.status_code == 201
    found = person.http.get(f"/api/users/{name}")
    assert found.status_code == 200 and found.json()["username"] == name
    assert "password" not in found.text and "hash" not in found.text
    assert person.http.get(f"/api/users/{unique()}").status_code == 404


def test_a_post_can_name_its_category_by_id_as_the_seed_e2e_test_does(person):
    technology = next(c for c in person.http.get("/blog/api/categories").json() if c["slug"] == "technology")
    created = person.http.post("/blog/api/posts", headers=person.auth,
                               json={"title": "By id", "content": "x", "category_id": technology["id"]})
    assert created.status_code == 201 and created.json()["category"]["id"] == technology["id"]


def test_the_list_is_newest_first_and_pages_with_offset_and_limit(person):
    category = unique("cat")
    ids = [person.create_post(title=f"n{i}", category_name=category).json()["id"] for i in range(4)]
    page = person.http.get("/blog/api/posts", params={"category": category, "offset": 1, "limit": 2}).json()
    assert [p["id"] for p in page] == [ids[2], ids[1]]


def test_new_categories_get_distinct_colours(person):
    names = [unique("colour") for _ in range(4)]
    for name in names:
        assert person.create_post(category_name=name).status_code == 201
    colours = [c["color"] for c in person.http.get("/blog/api/categories").json()]
    assert len(colours) == len(set(colours))
