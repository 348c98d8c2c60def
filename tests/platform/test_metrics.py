"""What each service's /metrics says, on a platform of its own: the series that exist from the start,
the blog's route templates at the gateway, the pool, cache, process and business figures moving with
real actions, and the level each access line is logged at."""

from __future__ import annotations

import json
import os
import signal

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.platform.conftest import FREEZING_ENV, LOGINS_PER_ADDRESS
from tests.platform.harness import SERVICES, Client, Platform, unique, wait_until
from titanium.core.database import SQLITE_READERS
from titanium.core.registry import SERVICES as REGISTRY

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]
# The connections each service's pools hold on SQLite: one writer, and the blog's readers beside it.
POOLS = {"users": 1, "blog": 1 + SQLITE_READERS}


def scrape(platform: Platform, service: str) -> Series:
    """A service's own /metrics (as Prometheus scrapes it: classic text), as {(name, labels): value}."""
    text = httpx.get(platform.service_url(service) + "/metrics", timeout=10).text
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(series: Series, name: str, **labels: str) -> float | None:
    return series.get((name, frozenset(labels.items())))


def matching(series: Series, name: str, **labels: str) -> dict[frozenset[tuple[str, str]], float]:
    wanted = set(labels.items())
    return {key_labels: v for (key_name, key_labels), v in series.items() if key_name == name and wanted <= key_labels}


@pytest.fixture(scope="module")
def fresh(own_platform):
    """A platform of this module's own, and every service's first scrape, taken before any request."""
    platform = own_platform(env=FREEZING_ENV)
    return platform, {service: scrape(platform, service) for service in SERVICES}


def test_a_fresh_platform_has_its_5xx_and_upstream_error_series_at_zero(fresh):
    _, first = fresh
    gateway = first["gateway"]
    # The gateway's own routes: the public paths (a forwarded request's finer label is its service's, whose own
    # zero series the loop below checks).
    for method, route in (("POST", "/blog/{rest:path}"), ("GET", "/blog/{rest:path}"), ("POST", "/api/login"),
                          ("POST", "/api/register"), ("GET", "/")):
        assert value(gateway, "http_requests_total", service="gateway", method=method, route=route, status="500") == 0, route
    for service in SERVICES:
        errors = matching(first[service], "http_requests_total", service=service, status="500")
        assert errors and set(errors.values()) == {0.0}, service
    # Each service's failed calls are counted by the service it calls, from the start (the registry's calls).
    expected_upstreams = {entry.name: set(entry.calls) for entry in REGISTRY if entry.calls}
    assert expected_upstreams["gateway"] >= {"users", "auth", "blog", "comments", "dashboard", "realworld"}
    for service, upstreams in expected_upstreams.items():
        errors = matching(first[service], "upstream_errors_total", service=service)
        assert {dict(labels)["upstream"] for labels in errors} == upstreams, service
        assert {dict(labels)["reason"] for labels in errors} >= {"unavailable", "timeout", "bad_answer"}, service
        assert set(errors.values()) == {0.0}, service


def test_process_pool_cache_and_business_series_exist_from_the_start(fresh):
    _, first = fresh
    for service in SERVICES:
        for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds"):
            assert value(first[service], name) is not None, (service, name)
    # SQLite: one writing connection, and the blog's read-only ones beside it, all opened at start-up. How many
    # are in use at a given moment is not asked: the dashboard's status round reads the database every 5 s.
    for service, connections in POOLS.items():
        assert value(first[service], "db_pool_max_connections", service=service) == connections
        held = [value(first[service], "db_pool_connections", service=service, state=state) for state in ("idle", "in_use")]
        assert None not in held and sum(held) == connections, (service, held)
    assert value(first["blog"], "cache_available", service="blog") == 1
    for service, name, key, values in (("users", "users_registrations_total", "result", ("created", "taken", "invalid")),
                                       ("auth", "auth_logins_total", "result", ("success", "failed", "throttled")),
                                       ("blog", "blog_posts_written_total", "action", ("create", "update", "delete"))):
        for label in values:
            assert value(first[service], name, service=service, **{key: label}) == 0, (name, label)


def test_the_gateway_labels_blog_requests_by_the_blogs_own_route_templates(fresh):
    platform, _ = fresh
    client = Client(platform.url)
    before = {name: scrape(platform, name) for name in ("gateway", "blog")}
    for path in ("/blog/api/posts/1", "/blog/api/posts/2", "/blog/api/categories", "/blog/static/blog.css",
                 "/blog/posts/1", "/blog/categories/notes", "/blog/no/such/page/at/all"):
        client.http.get(path)

    def counted(service: str) -> dict[tuple[str, str], float]:
        """(route, status) -> requests since `before`, of the blog's paths."""
        now = matching(scrape(platform, service), "http_requests_total", service=service)
        then = matching(before[service], "http_requests_total", service=service)
        moved = {labels: count - then.get(labels, 0.0) for labels, count in now.items()}
        return {(dict(labels)["route"], dict(labels)["status"]): n for labels, n in moved.items()
                if n and dict(labels)["route"].startswith("/blog")}

    gateway = counted("gateway")
    assert gateway == counted("blog"), "each request under the blog's own label, at the gateway as at the blog"
    assert gateway[("/blog/api/posts/{post_id}", "404")] == 2, "both post ids are one series"
    assert ("/blog/{rest:path}", "404") in gateway, "a page that does not exist: the blog's catch-all"
    assert not any(route[-1].isdigit() for route, _ in gateway), gateway


def test_business_pool_and_cache_figures_move_with_real_actions(fresh):
    platform, _ = fresh
    before = {service: scrape(platform, service) for service in ("users", "auth", "blog")}
    person = Client(platform.url)
    assert person.register().status_code == 201
    assert Client(platform.url).register(username="x").status_code == 422
    assert person.login().status_code == 200
    assert person.login(password="not the password").status_code == 401
    created = person.create_post()
    assert created.status_code == 201
    post = created.json()["id"]
    assert person.http.patch(f"/blog/api/posts/{post}", json={"title": "Changed"}, headers=person.auth).status_code == 200
    for _ in range(2):  # a miss, then a hit
        assert person.http.get(f"/blog/api/posts/{post}").status_code == 200
    assert person.http.delete(f"/blog/api/posts/{post}", headers=person.auth).status_code == 204
    after = {service: scrape(platform, service) for service in ("users", "auth", "blog")}

    def moved(scraped: str, name: str, **labels: str) -> float:
        return (value(after[scraped], name, **labels) or 0) - (value(before[scraped], name, **labels) or 0)

    for result in ("created", "invalid"):
        assert moved("users", "users_registrations_total", service="users", result=result) == 1, result
    assert moved("auth", "auth_logins_total", service="auth", result="success") == 1
    assert moved("auth", "auth_logins_total", service="auth", result="failed") == 1
    for action in ("create", "update", "delete"):
        assert moved("blog", "blog_posts_written_total", service="blog", action=action) == 1, action
    assert moved("blog", "cache_lookups_total", service="blog", result="miss") >= 1
    assert moved("blog", "cache_lookups_total", service="blog", result="hit") >= 1
    assert value(after["blog"], "cache_available", service="blog") == 1
    for service, connections in POOLS.items():
        wait_until(lambda service=service, connections=connections: every_connection_idle(platform, service, connections),
                   what=f"every {service} connection back in its pool")


def every_connection_idle(platform: Platform, service: str, connections: int) -> bool:
    """What an operator checks after a burst: the pool holds all its connections again, none left checked out."""
    series = scrape(platform, service)
    return (value(series, "db_pool_connections", service=service, state="idle") == connections
            and value(series, "db_pool_connections", service=service, state="in_use") == 0)


def test_a_name_already_taken_counts_as_taken(fresh):
    platform, _ = fresh
    before = value(scrape(platform, "users"), "users_registrations_total", service="users", result="taken")
    person = Client(platform.url)
    assert person.register().status_code == 201
    assert person.register(person.username).status_code == 409
    after = value(scrape(platform, "users"), "users_registrations_total", service="users", result="taken")
    assert after is not None and before is not None and after - before == 1


def test_too_many_logins_count_as_throttled(fresh):
    platform, _ = fresh
    before = value(scrape(platform, "auth"), "auth_logins_total", service="auth", result="throttled")
    person = Client(platform.url)
    person.username = unique()
    statuses = [person.login(password="wrong password").status_code for _ in range(LOGINS_PER_ADDRESS + 1)]
    assert 429 in statuses
    after = value(scrape(platform, "auth"), "auth_logins_total", service="auth", result="throttled")
    assert after is not None and before is not None and after - before == statuses.count(429)


def _access_lines(platform: Platform, service: str, request_id: str) -> list[dict]:
    lines = [json.loads(line) for line in platform.log(service).splitlines() if request_id in line]
    return [line for line in lines if line.get("event") == "request"]


def test_access_lines_are_errors_for_5xx_and_info_for_4xx_and_client_libraries_keep_quiet(fresh):
    platform, _ = fresh
    client = Client(platform.url)
    client.http.get("/no/such/page", headers={"X-Request-ID": "level-404"})
    pid = platform.pid_of("dashboard")
    os.kill(pid, signal.SIGSTOP)  # the gateway's call times out: a 504
    try:
        frozen = client.http.get("/", headers={"X-Request-ID": "level-504"})
    finally:
        os.kill(pid, signal.SIGCONT)
    assert frozen.status_code == 504
    wait_until(lambda: httpx.get(platform.url + "/").status_code == 200, timeout=60, what="the dashboard back")

    not_found = wait_until(lambda: _access_lines(platform, "gateway", "level-404"), what="the 404's access line")
    timed_out = wait_until(lambda: _access_lines(platform, "gateway", "level-504"), what="the 504's access line")
    assert [(line["status"], line["level"]) for line in not_found] == [(404, "info")]
    assert [(line["status"], line["level"]) for line in timed_out] == [(504, "error")]
    upstream_errors = matching(scrape(platform, "gateway"), "upstream_errors_total", service="gateway",
                               upstream="dashboard", reason="timeout")
    assert list(upstream_errors.values()) == [1.0]

    # Logins made auth call users with httpx, which logs each call at info.
    libraries = ("httpx", "httpcore", "aiohttp", "asyncio", "sqlalchemy")
    for service in SERVICES:
        lines = [json.loads(line) for line in platform.log(service).splitlines() if line.startswith("{")]
        noisy = [line for line in lines if line.get("logger", "").split(".")[0] in libraries
                 and line.get("level") in ("debug", "info")]
        assert not noisy, (service, noisy[:3])
