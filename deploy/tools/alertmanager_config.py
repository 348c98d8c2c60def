"""Render deploy/k8s/telemetry/alertmanager-config.yaml from compose's Alertmanager configuration.

deploy/observability/alertmanager/alertmanager.yml is the one source (amtool
checks it and tests its routes in `make deploy-check`); Kubernetes gets the
same route tree, receivers and inhibitions as an AlertmanagerConfig for the
prometheus-operator's Alertmanager, which Terraform makes its whole
configuration (alertmanagerSpec.alertmanagerConfiguration). A receiver's
bearer token file becomes a key of the Secret `alertmanager-receivers`.
`--check` fails when the rendered file is stale.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml
from rendered_file import write_or_check

DEPLOY = Path(__file__).resolve().parent.parent
SOURCE = DEPLOY / "observability" / "alertmanager" / "alertmanager.yml"
OUTPUT = DEPLOY / "k8s" / "telemetry" / "alertmanager-config.yaml"
HEADER = "# Rendered by deploy/tools/alertmanager_config.py from deploy/observability/alertmanager/alertmanager.yml: edit that.\n"
NAME = "titanium"
TOKEN_SECRET = "alertmanager-receivers"  # noqa: S105 (the Secret's name, not a password)
MATCHER = re.compile(r'^\s*(\w+)\s*(=~|!~|!=|=)\s*"(.*)"\s*$')
# alertmanager.yml's route and webhook keys, and their names in the AlertmanagerConfig.
ROUTE_KEYS = {"receiver": "receiver", "group_by": "groupBy", "group_wait": "groupWait",
              "group_interval": "groupInterval", "repeat_interval": "repeatInterval", "continue": "continue"}


def matchers(texts: list[str]) -> list[dict[str, str]]:
    found = []
    for text in texts:
        match = MATCHER.match(text)
        if match is None:
            raise ValueError(f"not a matcher this renderer knows: {text!r}")
        name, match_type, value = match.groups()
        found.append({"name": name, "value": value, "matchType": match_type})
    return found


def route(source: dict[str, Any]) -> dict[str, Any]:
    unknown = set(source) - set(ROUTE_KEYS) - {"matchers", "routes"}
    if unknown:
        raise ValueError(f"route keys this renderer does not carry over: {sorted(unknown)}")
    rendered = {ROUTE_KEYS[key]: value for key, value in source.items() if key in ROUTE_KEYS}
    if "matchers" in source:
        rendered["matchers"] = matchers(source["matchers"])
    if "routes" in source:
        rendered["routes"] = [route(child) for child in source["routes"]]
    return rendered


def webhook(source: dict[str, Any]) -> dict[str, Any]:
    rendered: dict[str, Any] = {"url": source["url"], "sendResolved": source.get("send_resolved", True)}
    authorization = source.get("http_config", {}).get("authorization")
    if authorization:
        key = Path(authorization["credentials_file"]).name
        rendered["httpConfig"] = {"authorization": {"type": authorization.get("type", "Bearer"),
                                                    "credentials": {"name": TOKEN_SECRET, "key": key}}}
    return rendered


def receiver(source: dict[str, Any]) -> dict[str, Any]:
    unknown = set(source) - {"name", "webhook_configs"}
    if unknown:
        raise ValueError(f"receiver {source['name']}: kinds this renderer does not carry over: {sorted(unknown)}")
    return {"name": source["name"], "webhookConfigs": [webhook(hook) for hook in source.get("webhook_configs", [])]}


def inhibit_rule(source: dict[str, Any]) -> dict[str, Any]:
    return {"sourceMatch": matchers(source["source_matchers"]), "targetMatch": matchers(source["target_matchers"]),
            "equal": source.get("equal", [])}


def render() -> str:
    config = yaml.safe_load(SOURCE.read_text())
    document = {
        "apiVersion": "monitoring.coreos.com/v1alpha1",
        "kind": "AlertmanagerConfig",
        "metadata": {"name": NAME, "labels": {"app.kubernetes.io/name": "titanium"}},
        "spec": {
            "route": route(config["route"]),
            "inhibitRules": [inhibit_rule(rule) for rule in config.get("inhibit_rules", [])],
            "receivers": [receiver(entry) for entry in config["receivers"]],
        },
    }
    return HEADER + yaml.safe_dump(document, sort_keys=False, width=120)


def main(argv: list[str]) -> int:
    return write_or_check(OUTPUT, render(), [__file__, *argv], str(SOURCE.relative_to(DEPLOY.parent)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
