"""Every Prometheus query of the Grafana dashboards, ready to send to Prometheus, with the unit its panel shows it in."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from tests.deploy.test_observability import OBSERVABILITY
from tests.observability.queries import Query

DASHBOARDS = OBSERVABILITY / "grafana"
# What Grafana puts in place of its own variables. $__rate_interval is at
# least four scrape intervals (a minute at compose's 15 s); the test keeps a
# minute, so that each panel sees every route the traffic took lately.
BUILT_IN = {"__rate_interval": "1m", "__interval": "15s", "__range": "15m", "__interval_ms": "15000",
            "__range_s": "900", "__range_ms": "900000"}
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")
def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # a collapsed row holds its panels


def _variables(dashboard: dict[str, Any]) -> dict[str, str]:
    """Each dashboard variable at "All" (its allValue, else any value), or at its current value."""
    values = dict(BUILT_IN)
    for variable in dashboard.get("templating", {}).get("list", []):
        current = variable.get("current", {}).get("value")
        if variable.get("includeAll") or current in (None, "$__all", ["$__all"]):
            values[variable["name"]] = variable.get("allValue") or ".*"
        else:
            values[variable["name"]] = current if isinstance(current, str) else "|".join(current)
    return values


def substituted(expr: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        if name not in values:
            raise KeyError(f"Grafana variable ${name} in {expr!r}: teach tests/observability/dashboards.py its value")
        return values[name]

    return VARIABLE.sub(value, expr)


def _is_prometheus(panel: dict[str, Any], target: dict[str, Any]) -> bool:
    """Targets of another data source (Loki, Tempo) are not PromQL; a variable data source is the Prometheus one."""
    source = target.get("datasource") or panel.get("datasource") or {}
    kind = source.get("type", "prometheus") if isinstance(source, dict) else "prometheus"
    return kind == "prometheus"


def _unit(panel: dict[str, Any], target: dict[str, Any]) -> str:
    field = panel.get("fieldConfig", {})
    for override in field.get("overrides", []):
        matcher = override.get("matcher", {})
        if matcher.get("id") == "byFrameRefID" and matcher.get("options") == target.get("refId"):
            for prop in override.get("properties", []):
                if prop.get("id") == "unit":
                    return prop["value"]
    return field.get("defaults", {}).get("unit", "short")


def panel_queries() -> list[Query]:
    found = []
    for path in sorted(DASHBOARDS.rglob("*.json")):
        dashboard = json.loads(path.read_text())
        values = _variables(dashboard)
        for panel in _panels(dashboard.get("panels", [])):
            for target in panel.get("targets", []):
                if target.get("expr") and not target.get("hide") and _is_prometheus(panel, target):
                    where = f"{path.stem} / {panel.get('title', '?')} [{target.get('refId', '?')}]"
                    found.append(Query(where, substituted(target["expr"], values), _unit(panel, target)))
    return found
