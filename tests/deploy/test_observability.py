"""The dashboard and the alert rules ask for series the services export, with labels they carry."""

from __future__ import annotations

import importlib
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from tests.deploy.manifests import DEPLOY
from titanium.core import metrics
from titanium.core.registry import SERVICES

OBSERVABILITY = DEPLOY / "observability"
SUFFIXES = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}
# Our series, not the recording rules' names (level:metric:operation).
OUR_SERIES = re.compile(r"(?<![:\w])((?:http|upstream|cache|db_pool|users|auth|blog|process)_[a-z_]+|up)(?![:\w])")
# Labels Prometheus puts on every scraped series (the service label by the scrape configuration:
# compose's static targets, the ServiceMonitor in Kubernetes), and the one the ServiceMonitor
# copies from the pods of an Argo Rollout.
TARGET_LABELS = {"job", "instance", "service", "rollouts_pod_template_hash"}
# Series that no prometheus_client metric object of core/metrics.py defines: the database pool's
# (a custom collector, read at each scrape), the process collector's that prometheus_client
# registers by default, and Prometheus's own `up`.
OTHER_SERIES = {
    "db_pool_connections": {"service", "state"},
    "db_pool_max_connections": {"service"},
    "process_cpu_seconds_total": set(),
    "process_resident_memory_bytes": set(),
    "process_start_time_seconds": set(),
    "up": set(),
}
LABEL_MATCHERS = re.compile(r"\b([a-z_]+)\s*(?:=~|!~|!=|=)\s*\"")


def exported() -> dict[str, set[str]]:
    """Series name -> its labels, for every metric core/metrics.py and the services' apps (their business counters) define."""
    series = {}
    modules = [metrics, *(importlib.import_module(entry.app_module) for entry in SERVICES)]
    for metric in (value for module in modules for value in vars(module).values()):
        if isinstance(metric, MetricWrapperBase):
            labels = set(metric._labelnames) | ({"le"} if metric._type == "histogram" else set())
            series |= {f"{metric._name}{suffix}": labels for suffix in SUFFIXES[metric._type]}
    return series | OTHER_SERIES


def dashboard() -> dict[str, Any]:
    return json.loads((OBSERVABILITY / "grafana" / "dashboards" / "titanium-golden-signals.json").read_text())


def dashboard_queries() -> list[str]:
    return [target["expr"] for panel in dashboard()["panels"] for target in panel["targets"]]


def rule_queries() -> list[str]:
    return [rule["expr"] for path in sorted((OBSERVABILITY / "prometheus" / "rules").glob("*.yml"))
            for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]]


@pytest.mark.parametrize("queries", [dashboard_queries, rule_queries], ids=["dashboard", "rules"])
def test_queries_use_exported_series_and_labels(queries) -> None:
    series = exported()
    problems = []
    for expr in queries():
        names = set(OUR_SERIES.findall(expr))
        problems += [f"{name} is not exported: {expr}" for name in names - set(series)]
        labels = set().union(*(series.get(name, set()) for name in names)) | TARGET_LABELS
        problems += [f"label {label} is on none of {sorted(names)}: {expr}"
                     for label in set(LABEL_MATCHERS.findall(expr)) - labels]
    assert not problems, "\n".join(problems)


def test_the_new_signals_have_panels() -> None:
    """Availability, the database pool, the cache, the processes and the business counters are charted."""
    queries = " ".join(dashboard_queries())
    wanted = ["up", "db_pool_connections", "db_pool_max_connections", "cache_lookups_total", "cache_available",
              "process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds",
              "users_registrations_total", "auth_logins_total", "blog_posts_written_total"]
    assert [name for name in wanted if name not in set(OUR_SERIES.findall(queries))] == []


def test_every_panel_declares_its_unit() -> None:
    assert [panel["title"] for panel in dashboard()["panels"] if not panel["fieldConfig"]["defaults"].get("unit")] == []


def _provisioned_datasources() -> dict[str, dict[str, Any]]:
    path = OBSERVABILITY / "grafana" / "provisioning" / "datasources" / "datasources.yaml"
    return {source["uid"]: source for source in yaml.safe_load(path.read_text())["datasources"]}


def test_data_links_open_explore_on_provisioned_datasources() -> None:
    """A panel's link to traces or logs opens Explore on a data source that exists, asking for the series' service."""
    sources, problems, linked = _provisioned_datasources(), [], 0
    for panel in dashboard()["panels"]:
        for link in panel["fieldConfig"]["defaults"].get("links", []):
            url = urlsplit(link["url"])
            panes = json.loads(parse_qs(url.query)["panes"][0])
            for pane in panes.values():
                uid = pane["datasource"]
                if url.path != "/explore" or uid not in sources:
                    problems.append(f"{panel['title']}: {link['title']} -> {url.path} {uid}")
                query = json.dumps(pane["queries"])
                if "${__field.labels.service}" not in query:
                    problems.append(f"{panel['title']}: {link['title']} does not ask for the series' service")
                linked += 1
    assert not problems, "\n".join(problems)
    assert {"tempo", "loki"} <= {json.loads(parse_qs(urlsplit(link["url"]).query)["panes"][0])["titanium"]["datasource"]
                                 for panel in dashboard()["panels"]
                                 for link in panel["fieldConfig"]["defaults"].get("links", [])}
    assert linked


def test_latency_panels_show_exemplars() -> None:
    latency = [panel for panel in dashboard()["panels"] if any("http_request_duration_seconds_bucket" in target["expr"]
                                                                for target in panel["targets"])]
    assert latency and all(target.get("exemplar") for panel in latency for target in panel["targets"])
