"""A dependency that fails degrades the answer (503 JSON, "degraded"), never crashes the service."""

from contextlib import asynccontextmanager

import httpx

from titanium.core.settings import AuthSettings, BlogSettings
from titanium.services.auth.app import build as build_auth
from titanium.services.blog.app import build as build_blog

NOWHERE = "127.0.0.1:1"  # nothing listens on port 1


@asynccontextmanager
async def serving(app):
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            yield client


async def test_a_blog_whose_database_is_down_answers_503_and_is_not_ready(tmp_path):
    app = build_blog(BlogSettings(blog_database_url=f"postgresql://postgres@{NOWHERE}/blog", data_dir=tmp_path))
    async with serving(app) as client:
        answer = await client.get("/blog/api/posts")
        assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
        assert answer.json() == {"detail": "a service this request needs is unavailable; try again shortly"}
        assert (await client.get("/health/ready")).status_code == 503
        assert (await client.get("/health")).status_code == 200, "alive: restarting it would not help"
        status = (await client.get("/status")).json()
        assert status["service_status"] == "degraded" and status["checks"]["database"] == "error"


async def test_writes_wait_for_the_auth_keys_but_reads_go_on(blog_database, tmp_path):
    settings = BlogSettings(blog_database_url=blog_database, auth_url=f"http://{NOWHERE}", data_dir=tmp_path)
    async with serving(build_blog(settings)) as client:
        assert (await client.get("/blog/api/posts")).status_code == 200
        write = await client.post("/blog/api/posts", json={"title": "t", "content": "c", "category_name": "x"},
                                  headers={"Authorization": "Bearer a.b.c"})
        assert write.status_code == 503
        assert "tokens cannot be checked" in write.json()["detail"]


async def test_login_answers_503_when_the_users_service_is_down(tmp_path):
    settings = AuthSettings(users_url=f"http://{NOWHERE}", data_dir=tmp_path)
    async with serving(build_auth(settings)) as client:
        answer = await client.post("/auth/login", json={"username": "alice", "password": "secret"})
        assert answer.status_code == 503
        assert answer.json()["detail"] == "login is unavailable right now; try again shortly"
        assert (await client.get("/auth/jwks")).status_code == 200, "token checks go on without users"
