"""The platform's API document (services/gateway/api_document.py), built from every service's own schema.

Every public operation is described, answers a typed body, and declares its
refusals shaped `{"detail": ...}`; nothing but what the gateway forwards
appears. The rules are general: a route added to any service is held to them
(each: a docstring, a response_model, and `responses=errors(...)` from core/api_docs.py).
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import compile_path

from titanium.core.api_docs import BEARER_SCHEME
from titanium.core.registry import SERVICES, PublicRoute
from titanium.services.gateway.api_document import SCHEMAS, _public_path, public_document

SUCCESS_WITHOUT_BODY = {"204"}


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Each described service's own schema, from the app its code builds."""
    data_dir = tmp_path_factory.mktemp("api-document")
    return {entry.name: importlib.import_module(entry.app_module).build(entry.settings_class()(data_dir=data_dir)).openapi()
            for entry in SERVICES if entry.public_routes and entry.openapi}


@pytest.fixture(scope="module")
def document(schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return public_document(schemas)


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, operation) for path, item in document["paths"].items() for method, operation in item.items()]


def resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].removeprefix(SCHEMAS)]
    return schema


def typed(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    """A schema that says what the answer holds: an object with named fields, or a list of such."""
    schema = resolved(document, schema)
    if schema.get("type") == "array":
        return typed(document, schema.get("items", {}))
    return schema.get("type") == "object" and bool(schema.get("properties"))


def binary(answer: dict[str, Any]) -> bool:
    """An answer that is a file (an image), said so with its media type."""
    return any(media.startswith("image/") and kind.get("schema", {}).get("format") == "binary"
               for media, kind in answer.get("content", {}).items())


def json_schema(answer: dict[str, Any]) -> dict[str, Any] | None:
    return answer.get("content", {}).get("application/json", {}).get("schema")


def public_routes() -> list[PublicRoute]:
    return [route for entry in SERVICES for route in (*entry.public_routes, *entry.own_routes)]


def test_the_document_is_openapi_3_1_with_a_bearer_scheme(document):
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"][BEARER_SCHEME] == {
        **document["components"]["securitySchemes"][BEARER_SCHEME], "type": "http", "scheme": "bearer"}
    assert "x-titanium-missing" not in document["info"]
    assert len(operations(document)) >= 20


def test_every_operation_is_described_with_a_typed_answer(document):
    for path, method, operation in operations(document):
        where = f"{method.upper()} {path}"
        assert operation.get("description", "").strip(), f"{where}: no description (the route's docstring)"
        successes = {status: answer for status, answer in operation["responses"].items() if status.startswith("2")}
        assert successes, f"{where}: no success answer"
        for status, answer in successes.items():
            if status in SUCCESS_WITHOUT_BODY or binary(answer):
                continue
            schema = json_schema(answer)
            assert schema is not None and typed(document, schema), f"{where}: its {status} is not typed (response_model)"


def test_every_operation_declares_its_refusals_shaped_detail(document):
    for path, method, operation in operations(document):
        where = f"{method.upper()} {path}"
        answers = operation["responses"]
        needs = {"429", "503"}
        if operation.get("parameters") or operation.get("requestBody"):
            needs.add("422")
        if "{" in path:
            needs.add("404")
        security = operation.get("security", [])
        if security and {} not in security:
            needs.add("401")
        assert needs <= set(answers), f"{where}: declares no {sorted(needs - set(answers))}"
        for status, answer in answers.items():
            if not status.startswith(("4", "5")):
                continue
            schema = json_schema(answer)
            assert schema is not None, f"{where}: its {status} has no JSON body"
            assert "detail" in resolved(document, schema).get("properties", {}), f"{where}: its {status} has no detail"


def test_only_public_paths_appear_each_as_the_gateway_forwards_it(document, schemas):
    routes = public_routes()
    for path, method, _operation in operations(document):
        concrete = re.sub(r"\{\w+\}", "sample", path)
        assert any(compile_path(route.path)[0].match(concrete) and method.upper() in route.methods
                   for route in routes), f"{method.upper()} {path}: no public route takes it"
        assert "/internal" not in path
    forwarded_to = {(entry.name, their) for entry in SERVICES for their in schemas.get(entry.name, {}).get("paths", {})
                    if any(_public_path(route, their) for route in entry.public_routes)}
    for entry in SERVICES:
        for their in schemas.get(entry.name, {}).get("paths", {}):
            public_too = any(compile_path(route.path)[0].match(their) for route in routes)  # jwks: both
            if (entry.name, their) not in forwarded_to and not public_too:
                assert their not in document["paths"], f"{their} of {entry.name} is internal, yet in the document"
    assert "/internal/credentials/verify" in schemas["users"]["paths"], "the check above saw internal paths"


def test_a_service_that_does_not_answer_is_named_and_the_rest_kept(schemas):
    partial = public_document({name: schema for name, schema in schemas.items() if name != "blog"})
    assert partial["info"]["x-titanium-missing"] == ["blog"]
    assert "/api/login" in partial["paths"] and "/blog/api/posts" not in partial["paths"]


def test_a_schema_name_two_services_use_differently_is_kept_apart():
    def service_schema(path: str, fields: list[str]) -> dict[str, Any]:
        return {"paths": {path: {"get": {"operationId": "read", "description": "Reads.", "responses": {"200": {
                    "description": "ok", "content": {"application/json": {"schema": {"$ref": SCHEMAS + "Thing"}}}}}}}},
                "components": {"schemas": {"Thing": {"type": "object", "properties": {f: {"type": "string"} for f in fields}}}}}

    merged = public_document({"auth": service_schema("/auth/jwks", ["kid"]), "blog": service_schema("/blog/api/x", ["id"])})
    kept = merged["components"]["schemas"]
    assert set(kept["Thing"]["properties"]) == {"kid"} and set(kept["BlogThing"]["properties"]) == {"id"}
    blog_answer = merged["paths"]["/blog/api/x"]["get"]["responses"]["200"]
    assert json_schema(blog_answer) == {"$ref": SCHEMAS + "BlogThing"}
    ids = [operation["operationId"] for _path, _method, operation in operations(merged)]
    assert len(ids) == len(set(ids)), "each operation has its own id"


def test_the_docs_page_loads_nothing_from_another_origin():
    page = (Path(importlib.import_module("titanium.services.gateway.api_document").__file__).parent  # type: ignore[arg-type]
            / "docs" / "index.html").read_text()
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert "<script>" not in page, "no inline script: the page's CSP allows none"
