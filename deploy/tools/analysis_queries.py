"""Run every canary analysis query through promtool, against the project's rules and the series the services export.

For each Rollout in the built manifests, each Prometheus metric of the
analysis templates it runs is rendered with the arguments the Rollout passes
(its pod template hashes become two made-up ones), then checked twice:

1. by name: every series the query names is recorded by a rule in
   deploy/observability/prometheus/rules or exported by the services (the
   exposition of src/titanium/core/metrics.py, as a scrape sees it);
2. by promtool: a generated unit test feeds the raw series the services
   export, for a stable and a canary revision, evaluates the rules, and
   expects the query to give one number that meets the metric's
   successCondition when the canary behaves like the stable pods, and its
   failureCondition when the canary burns (a fifth of its answers 5xx, each
   taking 2 s).

Conditions must read `len(result) > 0 && result[0] <op> <number>` so that
they can be turned into PromQL. Exit status 1 when any check fails.

    python deploy/tools/analysis_queries.py --build .venv/deploy-build
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from titanium.core import metrics

DEPLOY = Path(__file__).resolve().parent.parent
RULES = DEPLOY / "observability" / "prometheus" / "rules"
HASHES = {"Stable": "stable0hash", "Latest": "canary0hash"}
CONDITION = re.compile(r"^\s*len\(result\)\s*>\s*0\s*&&\s*result\[0\]\s*(<=|>=|<|>|==|!=)\s*(-?[0-9.]+(?:e-?[0-9]+)?)\s*$")
STEPS, EVAL_TIME = 30, "20m"
# The build holds an AlertmanagerConfig whose `matchType: =` PyYAML reads as YAML 1.1's "value" type:
# read it as the string it is (as validate_manifests.py does).
yaml.SafeLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


@dataclass(frozen=True)
class Revision:
    """What one ReplicaSet's pods answer each minute: requests, the fraction that are 5xx, and how long each takes."""

    pod_template_hash: str
    requests: float
    error_ratio: float
    seconds: float


STABLE = Revision(HASHES["Stable"], 600, 0.01, 0.04)
# The canary gets a tenth of the traffic: first as the stable pods answer it, then burning.
SCENARIOS = {
    "like-stable": (STABLE, Revision(HASHES["Latest"], 60, 0.01, 0.04)),
    "burning": (STABLE, Revision(HASHES["Latest"], 60, 0.2, 2.0)),
}


@dataclass(frozen=True)
class Query:
    where: str  # "Rollout/blog AnalysisTemplate/canary-slo metric error-ratio"
    service: str
    promql: str
    success: str
    failure: str | None


# ---- the queries, from the built manifests


def manifests(build: Path) -> list[dict[str, Any]]:
    return [doc for path in sorted(build.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def _arg_value(arg: dict[str, Any], rollout: dict[str, Any]) -> str:
    if "value" in arg:
        return str(arg["value"])
    source = arg.get("valueFrom", {})
    if "podTemplateHashValue" in source:
        return HASHES[source["podTemplateHashValue"]]
    if source.get("fieldRef", {}).get("fieldPath") == "metadata.name":
        return str(rollout["metadata"]["name"])
    raise ValueError(f"argument {arg['name']}: only value, podTemplateHashValue and fieldRef metadata.name are checked")


def _analyses(rollout: dict[str, Any]) -> list[dict[str, Any]]:
    """The background analysis and the analysis steps of a Rollout's canary."""
    canary = rollout["spec"].get("strategy", {}).get("canary", {})
    background = [canary["analysis"]] if "analysis" in canary else []
    return background + [step["analysis"] for step in canary.get("steps", []) if "analysis" in step]


def render(query: str, args: dict[str, str | None]) -> str:
    """The query with its `{{args.NAME}}` replaced by their values."""
    return re.sub(r"\{\{\s*args\.([\w-]+)\s*\}\}", lambda match: str(args.get(match.group(1))), query)


def _template_queries(rollout: dict[str, Any], template: dict[str, Any], passed: dict[str, str]) -> list[Query]:
    """The Prometheus queries of one template as this Rollout runs it (its name is its service's)."""
    where = f"Rollout/{rollout['metadata']['name']} AnalysisTemplate/{template['metadata']['name']}"
    args = {arg["name"]: arg.get("value") for arg in template["spec"].get("args", [])} | passed
    missing = [name for name, value in args.items() if value is None]
    if missing:
        raise ValueError(f"{where}: no value for the arguments {', '.join(missing)}")
    return [Query(f"{where} metric {metric['name']}", rollout["metadata"]["name"],
                  render(metric["provider"]["prometheus"]["query"], args),
                  metric.get("successCondition", ""), metric.get("failureCondition"))
            for metric in template["spec"]["metrics"] if "prometheus" in metric.get("provider", {})]


def queries(objects: list[dict[str, Any]]) -> tuple[list[Query], list[str]]:
    """Every Prometheus query a Rollout would run, rendered with its arguments; and the problems met on the way."""
    templates = {obj["metadata"]["name"]: obj for obj in objects
                 if obj["kind"] in ("AnalysisTemplate", "ClusterAnalysisTemplate")}
    found: dict[tuple[str, str], Query] = {}  # each overlay holds the same Rollouts: once each
    problems = []
    for rollout in (obj for obj in objects if obj["kind"] == "Rollout"):
        for analysis in _analyses(rollout):
            for ref in analysis["templates"]:
                if ref["templateName"] not in templates:
                    problems.append(f"Rollout/{rollout['metadata']['name']}: no AnalysisTemplate {ref['templateName']}")
                    continue
                try:
                    passed = {arg["name"]: _arg_value(arg, rollout) for arg in analysis.get("args", [])}
                    found |= {(query.where, query.promql): query
                              for query in _template_queries(rollout, templates[ref["templateName"]], passed)}
                except ValueError as exc:
                    problems.append(f"Rollout/{rollout['metadata']['name']}: {exc}")
    return list(found.values()), problems


# ---- the series that exist: recorded by a rule, or exported by a service


def recorded() -> set[str]:
    return {rule["record"] for path in sorted(RULES.glob("*.yml")) for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"] if "record" in rule}


def exposition(services: set[str]) -> list[Any]:
    """The metric families a scrape of these services reads: core/metrics.py's, once each service has answered."""
    for service in sorted(services):
        metrics.declare_service(service, [("GET", "/")])
        answered = metrics.RequestMetrics(service)
        answered.observe("GET", "/", 200, 0.01)
        answered.observe_probe("/health", 200)
    return list(text_string_to_metric_families(generate_latest(REGISTRY).decode()))


def _sample_names(family: Any) -> set[str]:
    names = {sample.name for sample in family.samples}
    if not names:  # a labelled metric no service has used yet: the names a scrape would show
        names = {f"{family.name}{suffix}" for suffix in {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}
                 .get(family.type, [""])}
    return names


PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or",
                "unless", "inf", "nan", "atan2"}


def named_series(promql: str) -> set[str]:
    """The series names in a query: what is left once strings, label matchers, ranges, label lists and functions go."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', promql)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = re.findall(r"(?<![\w.:])([A-Za-z_:][\w:]*)\b(?!\s*\()", text)
    return {name for name in names if name.lower() not in PROMQL_WORDS}


def unknown_series(query: Query, known: set[str]) -> list[str]:
    return [f"{query.where}: names {name}, which no recording rule records and no service exports"
            for name in sorted(named_series(query.promql) - known)]


# ---- the promtool test


def _per_minute(sample: Any, family_type: str, revision: Revision) -> float | None:
    """How much a sample grows each minute (None: a gauge, constant)."""
    if family_type == "histogram":
        if sample.name.endswith("_bucket"):
            return revision.requests if revision.seconds <= float(sample.labels["le"]) else 0.0
        return revision.requests * (revision.seconds if sample.name.endswith("_sum") else 1)
    if family_type == "counter" and "status" in sample.labels:
        bad = sample.labels["status"].startswith("5")
        return revision.requests * (revision.error_ratio if bad else 1 - revision.error_ratio)
    return 1.0 if family_type == "counter" else None


def _selector(name: str, labels: dict[str, str]) -> str:
    escaped = (value.replace("\\", "\\\\").replace('"', '\\"') for value in labels.values())
    return name + "{" + ", ".join(f'{key}="{value}"' for key, value in zip(labels, escaped, strict=True)) + "}"


def input_series(families: list[Any], service: str, revision: Revision) -> list[dict[str, str]]:
    """The series a scrape of one revision's pods gives, with the labels the ServiceMonitor adds."""
    series = []
    for family in families:
        for sample in family.samples:
            if sample.labels.get("service", service) != service:
                continue
            labels = {**sample.labels, "job": "titanium", "service": service,
                      "instance": f"{service}-{revision.pod_template_hash}",
                      "rollouts_pod_template_hash": revision.pod_template_hash}
            growth = _per_minute(sample, family.type, revision)
            values = f"1x{STEPS}" if growth is None else f"0+{growth:g}x{STEPS}"
            series.append({"series": _selector(sample.name, labels), "values": values})
    return series


def _condition(condition: str, query: Query) -> tuple[str, float]:
    match = CONDITION.match(condition)
    if match is None:
        raise ValueError(f"{query.where}: write the condition as `len(result) > 0 && result[0] <op> <number>` "
                         f"(not {condition!r}) so that it can be checked")
    return match.group(1), float(match.group(2))


def _holds(query: Query, condition: str) -> str:
    op, number = _condition(condition, query)
    return f"count(({query.promql.strip()}) {op} {number!r})"


def _negated(query: Query, condition: str) -> str:
    op, number = _condition(condition, query)
    opposite = {"<=": ">", ">=": "<", "<": ">=", ">": "<=", "==": "!=", "!=": "=="}[op]
    return f"count(({query.promql.strip()}) {opposite} {number!r})"


def promtool_test(all_queries: list[Query], families: list[Any]) -> dict[str, Any]:
    """One test group a scenario; in each, every query must give one number that meets the expected condition."""
    one = [{"labels": "{}", "value": 1}]
    groups = []
    for scenario, revisions in SCENARIOS.items():
        services = sorted({query.service for query in all_queries})
        series = [item for service in services for revision in revisions
                  for item in input_series(families, service, revision)]
        tests = []
        for query in all_queries:
            failed = _holds(query, query.failure) if query.failure else _negated(query, query.success)
            tests.append({"expr": f"count(abs({query.promql.strip()}) >= 0)", "eval_time": EVAL_TIME, "exp_samples": one})
            if scenario == "like-stable":  # passes, and does not fail
                tests.append({"expr": _holds(query, query.success), "eval_time": EVAL_TIME, "exp_samples": one})
                tests.append({"expr": failed, "eval_time": EVAL_TIME, "exp_samples": []})
            else:  # fails (a failed condition wins over a met one)
                tests.append({"expr": failed, "eval_time": EVAL_TIME, "exp_samples": one})
        groups.append({"interval": "1m", "input_series": series, "promql_expr_test": tests})
    return {"rule_files": [str(path) for path in sorted(RULES.glob("*.yml"))], "evaluation_interval": "1m",
            "tests": groups}


def describe(all_queries: list[Query]) -> str:
    lines = [f"# {scenario}: stable {stable.requests:g} requests a minute, canary {canary.requests:g}, "
             f"{canary.error_ratio:.0%} of its answers 5xx, each in {canary.seconds:g} s"
             for scenario, (stable, canary) in SCENARIOS.items()]
    return "\n".join(["# Generated by deploy/tools/analysis_queries.py: every canary analysis query, evaluated on",
                      "# the services' series against the project's rules.", *lines,
                      *(f"# {query.where}" for query in all_queries)]) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", type=Path, required=True, help="the built manifests (validate_manifests.py --out)")
    args = parser.parse_args()
    all_queries, problems = queries(manifests(args.build))
    if not all_queries and not problems:
        print("no Rollout runs a Prometheus analysis: nothing to check")
        return 0
    families = exposition({query.service for query in all_queries})
    known = recorded() | {name for family in families for name in _sample_names(family)} | {"up"}
    for query in all_queries:
        problems += unknown_series(query, known)
    try:
        test = promtool_test(all_queries, families)
    except ValueError as exc:
        problems.append(str(exc))
    if problems:
        print("\n".join(f"FAILED {problem}" for problem in problems), file=sys.stderr)
        return 1
    path = args.build / "analysis.test.yml"
    path.write_text(describe(all_queries) + yaml.safe_dump(test, sort_keys=False, width=1000))
    print(f"{len(all_queries)} analysis queries name only recorded or exported series; promtool test rules {path}:")
    result = subprocess.run(["promtool", "test", "rules", str(path)], capture_output=True, text=True, check=False)  # noqa: S603
    print(result.stdout + result.stderr, end="")
    return 0 if result.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
