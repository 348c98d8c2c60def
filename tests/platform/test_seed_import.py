"""`titanium import-seed` (issue 20, item 5): the seed's accounts and posts moved into a running platform.

The seed's database is made here as the seed made it (its tables as its
blog and user services created them, its passwords hashed by werkzeug as it
hashed them), on the test PostgreSQL; the platform it moves into runs on
SQLite and on PostgreSQL. The import runs as an operator runs it: the
command, with the platform's database settings.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from werkzeug.security import generate_password_hash

from tests.platform.harness import Client, Platform, unique
from titanium.core.database import async_url

SEED_TABLES = (
    "CREATE TABLE users (id SERIAL PRIMARY KEY, username VARCHAR(100) UNIQUE NOT NULL, email VARCHAR(255) NOT NULL, "
    "password_hash VARCHAR(255) NOT NULL, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)",
    "CREATE TABLE categories (id SERIAL PRIMARY KEY, name VARCHAR(50) NOT NULL UNIQUE, slug VARCHAR(50) NOT NULL UNIQUE)",
    "CREATE TABLE posts (id SERIAL PRIMARY KEY, title VARCHAR(200) NOT NULL, content TEXT NOT NULL, "
    "author VARCHAR(100) NOT NULL, category_id INTEGER NOT NULL REFERENCES categories(id), "
    "created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)",
)
SEED_PASSWORD = "seed-era password 7"
WRITTEN = datetime(2025, 10, 1, 8, 30)
# The seed's own categories (its database.py): the first one's slug is not the one Titanium makes of its name.
CATEGORIES = [(1, "기술 스택", "tech-stack"), (2, "Troubleshooting", "troubleshooting")]
ACCOUNTS = [(1, "dongju", "dongju@example.com"), (2, "admin", "admin@example.com"), (3, "a", "a@example.com")]
SEED_POST = "첫 줄\n둘째 줄에 <mark>표시</mark>\n\n```python\nprint('seed')\n```"
POSTS = [
    (3, "Kustomize로 환경별 매니페스트 관리하기", SEED_POST, "dongju", 1),
    (7, "Pod CrashLoopBackOff 문제 해결", "The crashloopbackoff came from a missing secret.", "admin", 2),
    (291, "[Troubleshooting] NodePort 외부 접근 불가 문제 해결", "NodePort 31304 was closed.", "dongju", 2),
    (292, "A post by an account that cannot move", "Its author's name is too short.", "a", 2),
    (293, "T" * 130, "A title longer than Titanium's 120 characters.", "dongju", 2),
]
MOVED_IDS = (3, 7, 291)


def seed_hash(password: str) -> str:
    return generate_password_hash(password, method="pbkdf2:sha256:100000")  # the seed's users service's call


async def _execute(url: str, statements: list[tuple[str, dict]]) -> list:
    engine = create_async_engine(async_url(url), poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            return [(await conn.execute(text(sql), params)) for sql, params in statements]
    finally:
        await engine.dispose()


def make_seed(url: str, accounts=ACCOUNTS, categories=CATEGORIES, posts=POSTS) -> str:
    """The seed's database at `url` (made empty before), with these rows."""
    statements = [(sql, {}) for sql in SEED_TABLES]
    statements += [("INSERT INTO users (id, username, email, password_hash, created_at) "
                    "VALUES (:id, :name, :email, :hash, :at)",
                    {"id": id_, "name": name, "email": email, "hash": seed_hash(SEED_PASSWORD), "at": WRITTEN})
                   for id_, name, email in accounts]
    statements += [("INSERT INTO categories (id, name, slug) VALUES (:id, :name, :slug)",
                    {"id": id_, "name": name, "slug": slug}) for id_, name, slug in categories]
    statements += [("INSERT INTO posts (id, title, content, author, category_id, created_at, updated_at) "
                    "VALUES (:id, :title, :content, :author, :category, :at, :at)",
                    {"id": id_, "title": title, "content": content, "author": author, "category": category,
                     "at": WRITTEN}) for id_, title, content, author, category in posts]
    asyncio.run(_execute(url, statements))
    return url


def import_seed(platform: Platform, *arguments: str) -> subprocess.CompletedProcess[str]:
    """`titanium import-seed ...` with the platform's database settings, as its operator would run it."""
    env = {**platform.env, "TITANIUM_DATA_DIR": str(platform.data_dir)}
    return subprocess.run([sys.executable, "-m", "titanium", "import-seed", *arguments], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def users_database_hash(platform: Platform, username: str) -> str:
    url = platform.env.get("TITANIUM_USERS_DATABASE_URL")
    if url is None:
        with sqlite3.connect(platform.data_dir / "users.db") as conn:
            return conn.execute("SELECT password_hash FROM users WHERE username = ?", (username,)).fetchone()[0]
    [result] = asyncio.run(_execute(url, [("SELECT password_hash FROM users WHERE username = :name",
                                           {"name": username})]))
    return result.scalar_one()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def moved(request, own_platform, postgres_databases):
    """A platform (on each database) with the seed moved in by a first run; the run's result."""
    platform = own_platform(postgres=request.param == "postgres")
    seed = make_seed(postgres_databases.new("seed"))
    return platform, seed, import_seed(platform, seed)


def test_the_first_run_moves_what_fits_and_says_why_not_the_rest(moved):
    _, _, run = moved
    assert run.returncode == 1, run.stdout + run.stderr  # some records were refused
    assert "accounts: 2 moved, 0 moved before, 1 refused" in run.stdout
    assert "posts: 3 moved, 0 moved before, 2 refused" in run.stdout
    assert "account 'a' refused: its name is not 3 to 32" in run.stdout
    assert "post 292 refused: its author 'a' was not imported" in run.stdout
    assert "post 293 refused: its title: string should have at most 120 characters" in run.stdout
    assert "the seed's category link 'tech-stack' is now '기술-스택'" in run.stdout


def test_a_moved_account_signs_in_with_its_seed_password_then_holds_an_argon2_hash(moved):
    platform, _, _ = moved
    client = Client(platform.url)
    client.username = "dongju"
    assert client.login("not the password").status_code == 401
    assert client.login(SEED_PASSWORD).status_code == 200
    assert users_database_hash(platform, "dongju").startswith("$argon2id$")
    assert client.login(SEED_PASSWORD).status_code == 200  # and again, against the new hash


def test_a_seed_account_keeps_a_name_titanium_now_reserves(moved):
    platform, _, _ = moved
    client = Client(platform.url)
    client.username = "admin"
    assert client.login(SEED_PASSWORD).status_code == 200


def test_moved_posts_keep_their_ids_titles_times_authors_and_categories(moved):
    platform, _, _ = moved
    anonymous = Client(platform.url)
    for post_id, title, _, author, category_id in POSTS[:3]:
        post = anonymous.http.get(f"/blog/api/posts/{post_id}").json()
        assert (post["id"], post["title"], post["author"]) == (post_id, title, author)
        assert post["category"]["name"] == dict((c[0], c[1]) for c in CATEGORIES)[category_id]
        assert datetime.fromisoformat(post["created_at"]) == WRITTEN.replace(tzinfo=UTC)
    for refused in (292, 293):
        assert anonymous.http.get(f"/blog/api/posts/{refused}").status_code == 404


def test_a_moved_post_reads_as_it_did_in_the_seed(moved):
    platform, _, _ = moved
    anonymous = Client(platform.url)
    page = anonymous.http.get("/blog/posts/3", follow_redirects=True)
    assert page.status_code == 200
    assert "첫 줄<br" in page.text  # the seed made a single newline a line break
    assert "<mark>표시</mark>" in page.text  # and let its safe inline HTML through
    assert '<code class="language-python' in page.text
    [listed] = [post for post in anonymous.http.get("/blog/api/posts").json() if post["id"] == 3]
    # The summary the pages show is plain text (`excerpt` stays the seed's contract: the raw text, API.md).
    assert listed["summary"].startswith("첫 줄")
    assert "```" not in listed["summary"] and "<mark>" not in listed["summary"]


def test_moved_posts_are_found_by_search(moved):
    platform, _, _ = moved
    found = Client(platform.url).http.get("/blog/api/search", params={"q": "crashloopbackoff"}).json()
    assert [post["id"] for post in found["results"]] == [7]


def test_the_next_post_written_takes_an_id_above_the_moved_ones(moved):
    platform, _, _ = moved
    writer = Client(platform.url).signed_up()
    made = writer.create_post(title="Written after the move")
    assert made.status_code == 201, made.text
    assert made.json()["id"] > max(MOVED_IDS)


def test_a_second_run_moves_nothing_twice(moved):
    platform, seed, _ = moved
    again = import_seed(platform, seed)
    assert again.returncode == 1  # what was refused still is
    assert "accounts: 0 moved, 2 moved before, 1 refused" in again.stdout
    assert "posts: 0 moved, 3 moved before, 2 refused" in again.stdout
    authors_posts = Client(platform.url).http.get("/blog/api/posts", params={"author": "dongju", "limit": 50}).json()
    assert sorted(post["id"] for post in authors_posts) == [3, 291]


def test_an_import_onto_ids_the_blog_has_given_writes_no_post(moved, postgres_databases):
    platform, _, _ = moved
    writer = Client(platform.url).signed_up()
    taken = writer.create_post(title="Already here").json()["id"]
    seed = make_seed(postgres_databases.new("seed"), accounts=[(1, unique("seed"), f"{unique()}@example.com")],
                     posts=[])
    author = asyncio.run(_execute(seed, [("SELECT username FROM users", {})]))[0].scalar_one()
    asyncio.run(_execute(seed, [("INSERT INTO posts (id, title, content, author, category_id) "
                                 "VALUES (:id, 'Clashing', 'x', :author, 2), (:free, 'Free', 'y', :author, 2)",
                                 {"id": taken, "free": taken + 1000, "author": author})]))
    run = import_seed(platform, seed)
    assert run.returncode == 2
    assert f"post {taken} of the seed has its id taken on this blog by another post ('Already here')" in run.stderr
    anonymous = Client(platform.url)
    assert anonymous.http.get(f"/blog/api/posts/{taken}").json()["title"] == "Already here"
    assert anonymous.http.get(f"/blog/api/posts/{taken + 1000}").status_code == 404


def test_a_laptop_seed_moves_from_its_two_sqlite_files(moved, tmp_path: Path):
    platform, _, _ = moved
    name = unique("laptop")
    blog_db, users_db = tmp_path / "blog.db", tmp_path / "users.db"
    with sqlite3.connect(users_db) as users:  # the seed's SQLite users table had no created_at
        users.execute("CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, username TEXT UNIQUE NOT NULL, "
                      "email TEXT NOT NULL, password_hash TEXT NOT NULL)")
        users.execute("INSERT INTO users (username, email, password_hash) VALUES (?, ?, ?)",
                      (name, f"{name}@example.com", seed_hash(SEED_PASSWORD)))
    with sqlite3.connect(blog_db) as blog:
        blog.execute("CREATE TABLE categories (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
                     "slug TEXT NOT NULL UNIQUE)")
        blog.execute("CREATE TABLE posts (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL, content TEXT "
                     "NOT NULL, author TEXT NOT NULL, category_id INTEGER NOT NULL, created_at TEXT NOT NULL, "
                     "updated_at TEXT NOT NULL)")
        blog.execute("INSERT INTO categories VALUES (1, 'Test', 'test')")
        blog.execute("INSERT INTO posts VALUES (5000, 'From a laptop', 'Line one\nline two', ?, 1, ?, ?)",
                     (name, "2025-11-12T10:00:00.123456", "2025-11-12T10:00:00.123456"))
    run = import_seed(platform, f"sqlite:///{blog_db}", "--seed-users", f"sqlite:///{users_db}")
    assert run.returncode == 0, run.stdout + run.stderr
    post = Client(platform.url).http.get("/blog/api/posts/5000").json()
    assert (post["title"], post["author"]) == ("From a laptop", name)
    assert post["created_at"].startswith("2025-11-12T10:00:00")


def test_an_unreachable_seed_is_a_clear_failure(moved):
    platform, _, _ = moved
    run = import_seed(platform, "postgresql://postgres@127.0.0.1:1/titanium")
    assert run.returncode == 2
    assert "could not read the seed's database" in run.stderr
    assert "Traceback" not in run.stderr
