"""Render deploy/k8s/monitoring/prometheus-rule.yaml from the Prometheus rule files.

The rule files under deploy/observability/prometheus/rules are the one source
(compose's Prometheus loads them as they are); Kubernetes gets the same groups
wrapped in a PrometheusRule. `--check` fails when the rendered file is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml
from rendered_file import write_or_check

DEPLOY = Path(__file__).resolve().parent.parent
RULES = DEPLOY / "observability" / "prometheus" / "rules"
OUTPUT = DEPLOY / "k8s" / "monitoring" / "prometheus-rule.yaml"
HEADER = "# Rendered by deploy/tools/prometheus_rule.py from deploy/observability/prometheus/rules: edit those.\n"


class _Literal(str):
    pass


def _literal(dumper: yaml.SafeDumper, value: _Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")


yaml.SafeDumper.add_representer(_Literal, _literal)


def _multiline_as_blocks(node: object) -> object:
    if isinstance(node, dict):
        return {key: _multiline_as_blocks(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_multiline_as_blocks(value) for value in node]
    return _Literal(node) if isinstance(node, str) and "\n" in node else node


def render() -> str:
    groups = [group for path in sorted(RULES.glob("*.yml")) for group in yaml.safe_load(path.read_text())["groups"]]
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "titanium", "labels": {"app.kubernetes.io/name": "titanium"}},
        "spec": {"groups": _multiline_as_blocks(groups)},
    }
    return HEADER + yaml.safe_dump(rule, sort_keys=False, width=120)


def main(argv: list[str]) -> int:
    return write_or_check(OUTPUT, render(), [__file__, *argv], "the rule files")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
