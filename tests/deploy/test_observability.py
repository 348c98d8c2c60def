"""The dashboard and the alert rules ask for series the services export, with labels they carry."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from tests.deploy.manifests import DEPLOY
from titanium.core import metrics

OBSERVABILITY = DEPLOY / "observability"
SUFFIXES = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}
# Our series, not the recording rules' names (level:metric:operation).
OUR_SERIES = re.compile(r"(?<![:\w])((?:http|upstream|cache)_[a-z_]+)(?![:\w])")
LABEL_MATCHERS = re.compile(r"\b([a-z_]+)\s*(?:=~|!~|!=|=)\s*\"")


def exported() -> dict[str, set[str]]:
    """Series name -> its labels, for every metric core/metrics.py defines."""
    series = {}
    for metric in vars(metrics).values():
        if isinstance(metric, MetricWrapperBase):
            labels = set(metric._labelnames) | ({"le"} if metric._type == "histogram" else set())
            series |= {f"{metric._name}{suffix}": labels for suffix in SUFFIXES[metric._type]}
    return series


def dashboard_queries() -> list[str]:
    dashboard = json.loads((OBSERVABILITY / "grafana" / "dashboards" / "titanium-golden-signals.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


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
        labels = set().union(*(series.get(name, set()) for name in names)) | {"job"}
        problems += [f"label {label} is on none of {sorted(names)}: {expr}"
                     for label in set(LABEL_MATCHERS.findall(expr)) - labels]
    assert not problems, "\n".join(problems)
