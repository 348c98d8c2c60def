"""Traces across services: a request's spans from the gateway, the service and its database share one trace.

The platform exports over real OTLP/HTTP to a receiver this test runs (the
protocol a Jaeger or OpenTelemetry Collector speaks), which decodes them.
"""

from __future__ import annotations

import gzip
import json
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.platform.conftest import PLATFORM_ENV
from tests.platform.harness import Client, Platform, logged_request, wait_until


class OtlpReceiver(ThreadingHTTPServer):
    """Takes OTLP/HTTP trace exports and keeps their spans as plain dicts."""

    def __init__(self) -> None:
        self.spans: list[dict] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _OtlpHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def trace(self, trace_id: str) -> list[dict]:
        with self.lock:
            return [span for span in self.spans if span["trace_id"] == trace_id]


class _OtlpHandler(BaseHTTPRequestHandler):
    server: OtlpReceiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest.FromString(body)
        spans = []
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                spans += [{
                    "service": attributes.get("service.name"), "name": span.name, "kind": span.kind,
                    "trace_id": span.trace_id.hex(), "span_id": span.span_id.hex(),
                    "parent_id": span.parent_span_id.hex(), "scope": scope_spans.scope.name,
                } for span in scope_spans.spans]
        with self.server.lock:
            self.server.spans += spans
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *_args: object) -> None:
        pass


SERVER, CLIENT = 2, 3  # OTLP span kinds


@pytest.fixture(scope="module")
def traced(own_platform):
    receiver = OtlpReceiver()
    # Token keys older than a second are fetched again: a write after a pause makes the blog call auth.
    env = {**PLATFORM_ENV, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100",
           "TITANIUM_JWKS_CACHE_SECONDS": "1"}
    yield own_platform(env=env), receiver
    receiver.shutdown()


def traceparent() -> tuple[str, str, str]:
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, parent_id, f"00-{trace_id}-{parent_id}-01"


def one(spans: list[dict], **match) -> dict:
    found = [span for span in spans if all(span[key] == value for key, value in match.items())]
    assert len(found) == 1, (match, spans)
    return found[0]


def test_a_write_is_one_trace_from_the_gateway_to_the_blog_database(traced):
    platform, receiver = traced
    person = Client(platform.url).signed_up()
    trace_id, caller_span, header = traceparent()
    created = person.http.post("/blog/api/posts", headers={**person.auth, "traceparent": header},
                               json={"title": "Traced", "content": "x", "category_name": "Tracing"})
    assert created.status_code == 201

    def complete():
        # Each process exports its spans in batches, and a server span ends after its children: the
        # trace is whole once both servers' spans are in, with the database's.
        spans = receiver.trace(trace_id)
        servers = {span["service"] for span in spans if span["kind"] == SERVER}
        return spans if {"gateway", "blog"} <= servers and any(s["scope"].endswith("sqlalchemy") for s in spans) else None

    spans = wait_until(complete, what="the write's spans from gateway, blog and its database")
    gateway = one(spans, service="gateway", kind=SERVER)
    assert gateway["name"] == "POST /blog/api/posts", "named by the blog's route template, not raw path"
    assert gateway["parent_id"] == caller_span, "the caller's trace is continued"
    forwarded = one(spans, service="gateway", kind=CLIENT)
    assert forwarded["parent_id"] == gateway["span_id"]
    blog = one(spans, service="blog", kind=SERVER)
    assert blog["name"] == "POST /blog/api/posts"
    assert blog["parent_id"] == forwarded["span_id"], "the blog continues the gateway's call"
    queries = [s for s in spans if s["service"] == "blog" and s["scope"].endswith("sqlalchemy")]
    assert queries and all(q["trace_id"] == trace_id for q in queries)

    entry = wait_until(lambda: logged_request(platform, "blog", trace_id), what="the request's line in the blog's log")
    assert entry["route"] == "/blog/api/posts" and entry["trace_id"] == trace_id


def test_a_login_is_traced_through_auth_to_users(traced):
    platform, receiver = traced
    person = Client(platform.url)
    assert person.register().status_code == 201
    trace_id, _, header = traceparent()
    answer = person.http.post("/api/login", headers={"traceparent": header},
                              json={"username": person.username, "password": "correct horse battery"})
    assert answer.status_code == 200

    spans = wait_until(lambda: (s := receiver.trace(trace_id)) and {x["service"] for x in s} >= {"gateway", "auth", "users"}
                       and s, what="the login's spans from gateway, auth and users")
    users = one(spans, service="users", kind=SERVER, name="POST /internal/credentials/verify")
    auth_calls = {span["span_id"] for span in spans if span["service"] == "auth" and span["kind"] == CLIENT}
    assert users["parent_id"] in auth_calls, "users continues auth's call"


def test_probes_and_status_checks_start_no_trace(traced):
    platform, receiver = traced
    for service in ("users", "blog", "auth"):
        for path in ("/health/ready", "/status"):  # what the supervisor, Kubernetes and the dashboard call
            assert httpx.get(platform.service_url(service) + path).status_code == 200
    platform.stats()  # the dashboard asks every service for its /status
    marker_id, _, marker = traceparent()
    Client(platform.url).http.get("/blog/api/categories", headers={"traceparent": marker})
    wait_until(lambda: receiver.trace(marker_id), what="the marker request's spans")  # exported after the probes'
    # Each process exports on its own, every 100 ms here: a request's server
    # span ends last and may arrive a batch after its children. An orphan is
    # a trace that still has no server span once every batch is in.
    try:
        wait_until(lambda: not _orphan_traces(receiver), timeout=5, what="every trace to hold a server span")
    except AssertionError:
        orphans = [(span["service"], span["name"], span["scope"]) for spans in _orphan_traces(receiver) for span in spans]
        raise AssertionError(orphans[:20]) from None


def _orphan_traces(receiver: OtlpReceiver) -> list[list[dict]]:
    with receiver.lock:
        by_trace: dict[str, list[dict]] = {}
        for span in receiver.spans:
            by_trace.setdefault(span["trace_id"], []).append(span)
    return [spans for spans in by_trace.values() if not any(span["kind"] == SERVER for span in spans)]


def _log_lines(platform: Platform, service: str, trace_id: str) -> list[dict]:
    return [json.loads(line) for line in platform.log(service).splitlines() if trace_id in line]


def _access_line(platform: Platform, service: str, trace_id: str, route: str) -> dict | None:
    return next((line for line in _log_lines(platform, service, trace_id)
                 if line.get("event") == "request" and line.get("route") == route), None)


def test_the_trace_id_in_the_answer_leads_to_every_hops_spans_logs_and_the_latency_exemplar(traced):
    platform, receiver = traced
    person = Client(platform.url).signed_up()
    time.sleep(1.5)  # the blog's token keys are stale now: the write fetches them from auth
    created = person.create_post(title="Followed")  # no traceparent: the gateway starts the trace
    assert created.status_code == 201
    trace_id, request_id = created.headers["x-trace-id"], created.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", trace_id) and trace_id != "0" * 32

    spans = wait_until(lambda: (found := receiver.trace(trace_id))
                       and {span["service"] for span in found} >= {"gateway", "blog", "auth"} and found,
                       what="the write's spans from the gateway, the blog and auth (the key fetch)")
    assert one(spans, service="gateway", kind=SERVER)["name"] == "POST /blog/api/posts"
    assert one(spans, service="blog", kind=SERVER)["name"] == "POST /blog/api/posts"
    one(spans, service="auth", kind=SERVER, name="GET /auth/jwks")

    for service, route in (("gateway", "/blog/api/posts"), ("blog", "/blog/api/posts"), ("auth", "/auth/jwks")):
        entry = wait_until(lambda s=service, r=route: _access_line(platform, s, trace_id, r),
                           what=f"{service}'s access line")
        assert entry["trace_id"] == trace_id, entry
        assert entry["request_id"] == request_id, f"{service} logs the request id of the write that caused its work"
    assert all(line["trace_id"] == trace_id for line in _log_lines(platform, "blog", trace_id))

    metrics = httpx.get(platform.url + "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert metrics.headers["content-type"].startswith("application/openmetrics-text")
    exemplars = [line for line in metrics.text.splitlines()
                 if line.startswith("http_request_duration_seconds_bucket{") and 'service="gateway"' in line
                 and 'route="/blog/api/posts"' in line and 'method="POST"' in line]
    assert any(f'# {{trace_id="{trace_id}"}}' in line for line in exemplars), exemplars
    classic = httpx.get(platform.url + "/metrics").text
    assert "# {trace_id=" not in classic and "# TYPE http_requests_total counter" in classic, "Prometheus text by default"
