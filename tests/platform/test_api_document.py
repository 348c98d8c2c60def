"""GET /api/openapi.json and /api/docs through the gateway: the platform's one API document, built from the
running services (tests/unit/test_api_document.py holds every operation to the rules)."""

from __future__ import annotations

from tests.platform.harness import Client


def test_the_gateway_serves_one_document_of_every_services_public_api(anonymous: Client):
    answer = anonymous.http.get("/api/openapi.json")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    document = answer.json()
    assert document["openapi"] == "3.1.0" and "x-titanium-missing" not in document["info"]
    assert {"/api/login", "/api/register", "/api/users/{username}", "/blog/api/posts"} <= set(document["paths"])
    assert not [path for path in document["paths"] if "internal" in path or path in ("/users", "/auth/login")]


def test_the_docs_page_and_its_assets_are_the_platforms_own(anonymous: Client):
    page = anonymous.http.get("/api/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "unsafe" not in policy
    for asset, kind in (("swagger-ui-bundle.js", "text/javascript"), ("swagger-ui.css", "text/css"),
                        ("start.js", "text/javascript")):
        answer = anonymous.http.get(f"/api/docs/{asset}")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith(kind), asset
    missing = anonymous.http.get("/api/docs/nothing.js")
    assert missing.status_code == 404 and missing.json()["detail"]
    assert anonymous.http.get("/api/docs/redoc.standalone.js").status_code == 404
