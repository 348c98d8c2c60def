"""The gateway as the one public entry: pages, status, metrics, request ids."""

import json
import re
import secrets

import httpx

from tests.platform.conftest import LOGINS_PER_ADDRESS
from tests.platform.harness import Client, logged_request, wait_until
from titanium.core.registry import SERVICE_NAMES


def test_the_pages_answer_html_with_no_asset_from_a_cdn(anonymous, person):
    post = person.create_post().json()
    origin = str(anonymous.http.base_url).rstrip("/")
    for path in ("/", "/blog/", f"/blog/posts/{post['id']}", "/blog"):
        page = anonymous.http.get(path, follow_redirects=True)  # /blog/posts/{id} goes on to its slugged URL
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html")
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        # The canonical link names the blog's own public address (TITANIUM_PUBLIC_URL): not another origin.
        foreign = [s for s in sources if s.startswith(("http:", "https:", "//")) and not s.startswith(f"{origin}/")]
        assert sources and not foreign, foreign
        for source in sources:
            if source.startswith(("/blog/static/", "/dashboard/static/")):
                assert anonymous.http.get(source).status_code == 200, source


def test_health_answers_while_the_gateway_serves(anonymous):
    assert anonymous.http.get("/health").json()["status"] == "ok"


def test_stats_has_an_entry_per_service_with_its_figures(anonymous, person):
    person.create_post()
    # The dashboard gathers every few seconds (not per request): the post shows in a round or two.
    stats = wait_until(lambda: (answer := anonymous.http.get("/stats").json())["blog"].get("post_count", 0) >= 1 and answer,
                       what="the post in the blog's figures")
    assert list(stats) == list(SERVICE_NAMES), "in the registry's order"
    assert all(entry["service_status"] == "online" for entry in stats.values()), stats
    assert stats["blog"]["post_count"] >= 1 and stats["blog"]["checks"] == {"database": "ok", "cache": "ok"}
    assert stats["blog"]["cache_backend"] == "memory"
    assert stats["users"]["user_count"] >= 1


def test_metrics_are_prometheus_text_with_route_templates(anonymous):
    anonymous.http.get("/blog/api/posts/1")
    text = anonymous.http.get("/metrics").text
    assert "# TYPE http_requests_total counter" in text
    assert 'route="/blog/{rest:path}"' in text
    assert re.search(r'http_requests_total\{method="GET",route="/blog/api/posts/\{post_id\}",service="gateway"', text), \
        "labelled with the blog's own template"
    assert 'route="/blog/api/posts/1"' not in text


def test_the_request_id_reaches_the_service_logs(platform, anonymous):
    # How a request id is made, kept or replaced: tests/unit/test_request_middleware.py. Here: it crosses the
    # gateway to the service, and the answer through both carries it once.
    made = anonymous.http.get("/blog/api/categories").headers.get_list("x-request-id")
    assert len(made) == 1 and re.fullmatch(r"[0-9a-f]{32}", made[0])
    given = anonymous.http.get("/blog/api/categories", headers={"X-Request-ID": "follow-me-across"})
    assert given.headers.get_list("x-request-id") == ["follow-me-across"]
    entry = wait_until(lambda: logged_request(platform, "blog", "follow-me-across"), timeout=10, what="the blog's log line")
    assert entry["service"] == "blog" and entry["route"] == "/blog/api/categories"
    assert entry["request_id"] == "follow-me-across" and entry["status"] == 200

def test_the_jwks_is_public(anonymous):
    keys = anonymous.http.get("/.well-known/jwks.json").json()["keys"]
    assert keys and all("d" not in key for key in keys)


def test_an_external_forwarded_for_header_is_not_trusted(platform):
    # A client that claims to be somebody else still spends its own budget.
    client = httpx.Client(base_url=platform.url, transport=httpx.HTTPTransport(local_address="127.9.9.9"))
    statuses = [client.post("/api/login", json={"username": f"x{i}", "password": "x"},
                            headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code for i in range(LOGINS_PER_ADDRESS + 1)]
    assert statuses[-1] == 429


def test_every_answer_carries_the_security_headers_once(anonymous):
    for path in ("/", "/blog/", "/blog/api/posts", "/no/such/page"):
        answer = anonymous.http.get(path)
        assert answer.headers.get_list("x-content-type-options") == ["nosniff"], path
        assert answer.headers.get_list("x-frame-options") == ["DENY"], path
        assert "default-src 'self'" in answer.headers["content-security-policy"], path
        assert len(answer.headers.get_list("content-security-policy")) == 1, path


def test_trace_context_reaches_the_services_logs_with_no_collector(platform, anonymous):
    trace_id = secrets.token_hex(16)
    anonymous.http.get("/blog/api/categories", headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"})
    for service in ("gateway", "blog"):  # each logs the request once it has answered
        wait_until(lambda name=service: trace_id in platform.log(name), timeout=10, what=f"the trace id in the {service} log")


def test_a_request_without_trace_context_starts_one_trace_across_the_services(platform, anonymous):
    request_id = anonymous.http.get("/blog/api/categories").headers["x-request-id"]
    lines = {}
    for service in ("gateway", "blog"):
        wait_until(lambda name=service: logged_request(platform, name, request_id), timeout=10,
                   what=f"the {service}'s line for the request")
        lines[service] = logged_request(platform, service, request_id)
    assert len(lines["gateway"]["trace_id"]) == 32 and int(lines["gateway"]["trace_id"], 16)
    assert lines["blog"]["trace_id"] == lines["gateway"]["trace_id"]
    assert lines["blog"]["span_id"] != lines["gateway"]["span_id"]


def test_every_public_request_counts_against_its_address(platform):
    # 300 a minute here (tests/platform/conftest.py); the default is 1200.
    # The window is fixed (one counter a client, cheap on every request), so
    # a run that crosses into the next minute may pass up to twice the limit.
    client, neighbour = Client(platform.url), Client(platform.url)
    answers = []
    while len(answers) < 601 and (not answers or answers[-1].status_code == 200):
        answers.append(client.http.get("/blog/api/categories"))
    refused = answers[-1]
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert 300 <= len(answers) - 1 <= 600
    assert refused.json()["detail"] == "too many requests from this address; slow down"
    assert neighbour.http.get("/blog/api/categories").status_code == 200
    # The gateway's own paths are public too: a flood of /metrics or /status from one address is refused
    # like any other (Prometheus and the probes ask far less often than the budget allows).
    for path in ("/metrics", "/status", "/health", "/no/such/path"):
        assert client.http.get(path).status_code == 429, path
    assert neighbour.http.get("/metrics").status_code == 200


def test_calls_between_services_are_not_logged_again_by_the_http_client(platform, person):
    assert person.login().status_code == 200  # auth asks users to check the password
    wait_until(lambda: logged_request(platform, "auth", "/auth/login"), what="auth's line for the login")
    lines = [json.loads(line) for line in platform.log("auth").splitlines() if line.startswith("{")]
    assert not [line for line in lines if line.get("logger") == "httpx"]
