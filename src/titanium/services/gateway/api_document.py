"""One document of the platform's public API: GET /api/openapi.json, and Swagger UI at GET /api/docs.

Each service describes its own routes (its FastAPI schema); the gateway
keeps, of each, the operations that a public route forwards to (the
registry's `public_routes`), under the path a client calls, so an internal
path never appears. It adds what the gateway itself answers to everything:
429 past an address's budget, 503 when a service does not answer, 404 for a
path parameter no route takes. Built when first asked and kept a minute; a
service that does not answer is left out and named (`x-titanium-missing`),
and that document is not kept. docs/adr/0021-one-api-document.md says why.

Swagger UI's files come from the pinned fastapi-offline package, served from
here (no CDN); its start-up is a file of ours, not an inline script, so the
page keeps a Content-Security-Policy without 'unsafe-inline' for scripts.
"""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route, compile_path

from titanium.core.api_docs import BEARER_SCHEME, ERROR_MEANINGS, ErrorAnswer
from titanium.core.errors import error_response
from titanium.core.logging import get_logger
from titanium.core.registry import BY_NAME, SERVICES, PublicRoute, Service

log = get_logger(__name__)

SCHEMAS = "#/components/schemas/"
METHODS = frozenset({"get", "put", "post", "delete", "patch", "options", "head", "trace"})
KEEP_SECONDS = 60.0
FETCH_SECONDS = 3.0
_PARAMETER = re.compile(r"^\{(\w+)(?::\w+)?\}$")
_CONVERTER = re.compile(r"\{(\w+):\w+\}")
# What the gateway answers on any public route, before or instead of the service.
_GATEWAY_ANSWERS = {"429": ERROR_MEANINGS[429], "503": ERROR_MEANINGS[503]}
_STATIC = Path(importlib.util.find_spec("fastapi_offline").submodule_search_locations[0]) / "static"  # type: ignore[union-attr,index]
_HERE = Path(__file__).parent / "docs"
# Swagger UI's own files (from the package) and its start-up (ours), by the name the page asks for.
ASSETS = {
    "swagger-ui.css": (_STATIC / "swagger-ui.css", "text/css; charset=utf-8"),
    "swagger-ui-bundle.js": (_STATIC / "swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    "docs.css": (_HERE / "docs.css", "text/css; charset=utf-8"),
    "start.js": (_HERE / "start.js", "text/javascript; charset=utf-8"),
}
# Swagger UI draws its icons from data: URLs in its stylesheet; nothing else is loosened.
DOCS_CSP = ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'; form-action 'self'")


def public_document(schemas: dict[str, dict[str, Any]], services: tuple[Service, ...] = SERVICES) -> dict[str, Any]:
    """The public API of every service whose schema is given, as the gateway serves it."""
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, Any] = _error_components()
    for entry in services:
        schema = schemas.get(entry.name)
        if schema is None:
            continue
        renamed = _merge_components(components, schema.get("components", {}).get("schemas", {}), entry.name)
        for public_path, method, operation in _public_operations(entry, schema):
            operation.setdefault("tags", [entry.name])  # grouped by the service that answers it
            paths.setdefault(public_path, {})[method] = _with_gateway_answers(_renamed(operation, renamed), public_path)
    _unique_operation_ids(paths)
    missing = [entry.name for entry in services if entry.public_routes and entry.openapi and entry.name not in schemas]
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "Titanium API", "version": "1",
                 "description": "Every public operation of the platform, as the gateway forwards it. "
                                "Refusals are JSON `{\"detail\": ...}`; writes that create take an "
                                "`Idempotency-Key` header (a retry gets the first answer)."},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(_reachable(paths, components).items())),
            "securitySchemes": {BEARER_SCHEME: {
                "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "The access token from POST /api/login (or /api/refresh)."}},
        },
    }
    if missing:
        document["info"]["x-titanium-missing"] = missing
    return document


def _error_components() -> dict[str, Any]:
    """ErrorAnswer and what it names, as the gateway's own answers refer to them."""
    schema = ErrorAnswer.model_json_schema(ref_template=SCHEMAS + "{model}")
    return {**schema.pop("$defs", {}), "ErrorAnswer": schema}


def _merge_components(components: dict[str, Any], own: dict[str, Any], service: str) -> dict[str, str]:
    """Add a service's schemas; one whose name another service gave to a different schema is renamed."""
    renamed = {name: f"{service.capitalize()}{name}" for name, body in own.items()
               if name in components and components[name] != body}
    for name, body in own.items():
        components.setdefault(renamed.get(name, name), _renamed(body, renamed))
    return renamed


def _renamed(value: Any, renamed: dict[str, str]) -> Any:
    """A copy of a piece of schema whose references follow the renamed schemas."""
    if isinstance(value, dict):
        return {key: (_ref(item, renamed) if key == "$ref" else _renamed(item, renamed)) for key, item in value.items()}
    if isinstance(value, list):
        return [_renamed(item, renamed) for item in value]
    return value


def _ref(ref: str, renamed: dict[str, str]) -> str:
    name = ref.removeprefix(SCHEMAS)
    return SCHEMAS + renamed[name] if ref.startswith(SCHEMAS) and name in renamed else ref


def _public_operations(entry: Service, schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(public path, method, operation) of each operation a public route forwards to; nothing else."""
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            for route in entry.public_routes:
                found = _public_path(route, path) if method.upper() in route.methods else None
                if found is not None:
                    yield found[0], method, _path_parameters_renamed(operation, found[1])


def _public_path(route: PublicRoute, path: str) -> tuple[str, dict[str, str]] | None:
    """The public path under which `route` forwards to the service's `path`, and its parameters' public names."""
    if route.upstream is None:
        return (path, {}) if compile_path(route.path)[0].match(path) else None
    theirs, ours = path.split("/"), route.upstream.split("/")
    if len(theirs) != len(ours):
        return None
    names: dict[str, str] = {}
    for their, our in zip(theirs, ours, strict=True):
        their_parameter, our_parameter = _PARAMETER.match(their), _PARAMETER.match(our)
        if their_parameter and our_parameter:
            names[their_parameter[1]] = our_parameter[1]
        elif their_parameter or our_parameter or their != our:
            return None
    return _CONVERTER.sub(r"{\1}", route.path), names


def _path_parameters_renamed(operation: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    operation = copy.deepcopy(operation)
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "path":
            parameter["name"] = names.get(parameter["name"], parameter["name"])
    return operation


def _with_gateway_answers(operation: dict[str, Any], public_path: str) -> dict[str, Any]:
    answers = operation.setdefault("responses", {})
    gateway = {**_GATEWAY_ANSWERS, **({"404": ERROR_MEANINGS[404]} if "{" in public_path else {})}
    for status, meaning in gateway.items():
        answers.setdefault(status, {"description": meaning,
                                    "content": {"application/json": {"schema": {"$ref": SCHEMAS + "ErrorAnswer"}}}})
    return operation


def _unique_operation_ids(paths: dict[str, dict[str, Any]]) -> None:
    """One service operation under two public paths (POST /api/register and /api/users) gets two ids."""
    seen: set[str] = set()
    for path, item in sorted(paths.items()):
        for operation in item.values():
            wanted = operation.get("operationId") or "operation"
            if wanted in seen:
                wanted = f"{wanted}_{re.sub(r'[^A-Za-z0-9]+', '_', path).strip('_')}"
            operation["operationId"] = wanted
            seen.add(wanted)


def _reachable(paths: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """The schemas the operations name, directly or through each other: no internal route's model."""
    kept: dict[str, Any] = {}
    waiting = list(_refs(paths))
    while waiting:
        name = waiting.pop()
        if name in kept or name not in components:
            continue
        kept[name] = components[name]
        waiting += _refs(components[name])
    return kept


def _refs(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str) and item.startswith(SCHEMAS):
                yield item.removeprefix(SCHEMAS)
            else:
                yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


async def _schema_of(session: aiohttp.ClientSession, urls: list[str], path: str) -> dict[str, Any] | None:
    """A service's own document, from the first of its processes that gives it."""
    for url in urls:
        try:
            async with session.get(url + path, timeout=aiohttp.ClientTimeout(total=FETCH_SECONDS)) as answer:
                if answer.status == 200:
                    schema: dict[str, Any] = await answer.json(content_type=None)
                    return schema
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("a service's API document could not be had", url=url, error=repr(exc))
    return None


async def _built(request: Request) -> tuple[bytes, bool]:
    """The document's JSON, and whether every service gave its part."""
    state = request.app.state
    described = [(entry.name, entry.openapi) for entry in SERVICES if entry.public_routes and entry.openapi]
    found = await asyncio.gather(*(
        _schema_of(state.session, [replica.url for replica in state.upstreams[name].candidates()], path)
        for name, path in described))
    schemas = {name: schema for (name, _path), schema in zip(described, found, strict=True) if schema is not None}
    return orjson.dumps(public_document(schemas)), len(schemas) == len(described)


async def openapi_json(request: Request) -> Response:
    """GET /api/openapi.json: the document, kept a minute once every service gave its part."""
    kept: tuple[float, bytes] | None = getattr(request.app.state, "api_document", None)
    if kept is not None and kept[0] > time.monotonic():
        body, whole = kept[1], True
    else:
        body, whole = await _built(request)
        if whole:
            request.app.state.api_document = (time.monotonic() + KEEP_SECONDS, body)
    return Response(body, media_type="application/json",
                    headers={"Cache-Control": "public, max-age=60" if whole else "no-store"})


async def docs_page(_request: Request) -> Response:
    """GET /api/docs: Swagger UI on the document."""
    return HTMLResponse((_HERE / "index.html").read_bytes(),
                        headers={"Cache-Control": "no-cache", "Content-Security-Policy": DOCS_CSP})


async def docs_asset(request: Request) -> Response:
    """GET /api/docs/{asset}: Swagger UI's stylesheet and script, and its start-up."""
    found = ASSETS.get(request.path_params["asset"])
    if found is None:
        return error_response(404, "Not Found")
    return FileResponse(found[0], media_type=found[1], headers={"Cache-Control": "public, max-age=3600"})


_ENDPOINTS = {"/api/openapi.json": openapi_json, "/api/docs": docs_page, "/api/docs/{asset}": docs_asset}


def routes() -> list[Route]:
    """The gateway's own public routes, as the registry lists them."""
    return [Route(route.path, _ENDPOINTS[route.path], methods=list(route.methods))
            for route in BY_NAME["gateway"].own_routes]
