"""What the request middleware gives every service, in-process: request ids, the body limit, shedding past the
in-flight bound, and the security headers (src/titanium/core/middleware.py, wired by core/app.py)."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from tests.unit.service_app import build_service, requests_counted, serving

SECURITY_HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "no-referrer"}


async def test_a_request_id_is_made_when_absent_kept_when_valid_and_replaced_when_not():
    app, _ = build_service("ids")
    async with serving(app) as client:
        made = (await client.get("/echo")).headers.get_list("x-request-id")
        assert len(made) == 1 and re.fullmatch(r"[0-9a-f]{32}", made[0])
        assert (await client.get("/echo")).headers["x-request-id"] != made[0], "one id a request"
        kept = await client.get("/echo", headers={"X-Request-ID": "trace-me_1.2:3"})
        assert kept.headers.get_list("x-request-id") == ["trace-me_1.2:3"]
        for hostile in ("bad id\twith spaces", "x" * 129, "quote\"d", "semi;colon"):
            replaced = (await client.get("/echo", headers={"X-Request-ID": hostile})).headers["x-request-id"]
            assert re.fullmatch(r"[0-9a-f]{32}", replaced), hostile
        refused = await client.get("/no/such/route", headers={"X-Request-ID": "on-a-404"})
        assert refused.status_code == 404 and refused.headers["x-request-id"] == "on-a-404", "errors carry it too"


async def test_the_access_line_carries_the_request_id_route_and_status(capfd):
    app, _ = build_service("logged")
    async with serving(app) as client:
        await client.post("/echo", content=b"hello", headers={"X-Request-ID": "follow-me"})
        await client.get("/health", headers={"X-Request-ID": "a-probe"})
    # The lifespan's end flushed the access log (its lines are written in batches).
    lines = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("event") == "request"]
    [line] = [line for line in access if line["request_id"] == "follow-me"]
    assert (line["service"], line["method"], line["route"], line["status"], line["level"]) == (
        "logged", "POST", "/echo", 200, "info")
    assert not [line for line in access if line["request_id"] == "a-probe"], "probes are logged at debug only"


async def test_a_body_over_the_limit_is_413_whether_announced_or_streamed_and_the_limit_itself_passes():
    app, _ = build_service("limited", max_body_bytes=1024)
    async with serving(app) as client:
        exact = await client.post("/echo", content=b"x" * 1024)
        assert exact.status_code == 200 and exact.json() == {"received": 1024}

        announced = await client.post("/echo", content=b"x" * 1025)
        assert announced.status_code == 413
        assert announced.json() == {"detail": "request body larger than 1024 bytes"}

        async def chunks():  # no Content-Length: counted as it arrives
            for _ in range(10):
                yield b"x" * 200

        streamed = await client.post("/echo", content=chunks())
        assert "content-length" not in streamed.request.headers
        assert streamed.status_code == 413 and streamed.json()["detail"] == "request body larger than 1024 bytes"
        assert streamed.headers["x-request-id"] and streamed.headers["x-frame-options"] == "DENY"


async def test_past_the_in_flight_bound_requests_are_refused_at_once_and_probes_still_answered():
    app, gate = build_service("shedding", max_in_flight=2)
    async with serving(app) as client:
        shed_before = requests_counted("shedding", "shed", "503")
        held = [asyncio.create_task(client.get("/slow")) for _ in range(2)]
        await gate.holding(2)

        refused = await client.get("/echo")
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert refused.json() == {"detail": "the service is at capacity; retry shortly"}
        assert refused.headers["x-request-id"] and refused.headers["x-content-type-options"] == "nosniff"
        assert requests_counted("shedding", "shed", "503") == shed_before + 1, "counted under the route 'shed'"
        for probe in ("/health", "/metrics", "/status"):
            assert (await client.get(probe)).status_code == 200, probe

        gate.opened.set()
        assert [answer.status_code for answer in await asyncio.gather(*held)] == [200, 200]
        assert (await client.get("/echo")).status_code == 200, "served again once the requests in flight are done"


async def test_a_request_that_fails_frees_its_place_in_flight():
    app, _ = build_service("failing", max_in_flight=1)
    async with serving(app) as client:
        for _ in range(3):  # each 413 (raised inside the route) gives its place back
            assert (await client.post("/echo", content=b"x" * 2000)).status_code == 413
        assert (await client.get("/echo")).status_code == 200


@pytest.mark.parametrize("path", ["/echo", "/no/such/route", "/health", "/metrics"])
async def test_every_answer_carries_the_security_headers_once(path):
    app, _ = build_service("headers")
    async with serving(app) as client:
        answer = await client.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers.get_list(name) == [value], (path, name)
    [policy] = answer.headers.get_list("content-security-policy")
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy


async def test_a_route_that_sets_its_own_policy_keeps_it():
    app, _ = build_service("own-policy")
    async with serving(app) as client:
        answer = await client.get("/framed")
    assert answer.headers.get_list("content-security-policy") == ["default-src 'none'"]
    assert answer.headers.get_list("x-frame-options") == ["DENY"]
