"""The blog service answers from its database when its cache is down."""

import httpx

from titanium.core.settings import BlogSettings
from titanium.services.blog.app import build
from titanium.services.blog.repository import BlogRepository, CategoryRef


async def test_reads_succeed_and_the_status_says_degraded_when_redis_is_down(blog_engine, blog_database, tmp_path):
    await BlogRepository(blog_engine).create_post("Still here", "content", "alice", 1, CategoryRef(name="Ops"))
    settings = BlogSettings(blog_database_url=blog_database, redis_url="redis://127.0.0.1:1/0", data_dir=tmp_path)
    app = build(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://blog") as client:
            posts = await client.get("/blog/api/posts")
            assert posts.status_code == 200
            assert [p["title"] for p in posts.json()] == ["Still here"]
            assert (await client.get(f"/blog/api/posts/{posts.json()[0]['id']}")).status_code == 200
            assert (await client.get("/blog/api/categories")).status_code == 200
            ready = await client.get("/health/ready")
            assert ready.status_code == 200, "a cache failure must not take the service out of rotation"
            status = (await client.get("/status")).json()
            assert status["service_status"] == "degraded"
            assert status["checks"] == {"database": "ok", "cache": "error"}
            assert status["post_count"] == 1
