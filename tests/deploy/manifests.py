"""The deployment as the tests see it: built manifests, read into plain objects.

Everything comes from what `kubectl kustomize` builds (and from
deploy/compose.yaml) and from the code: the settings classes, the routes each
service serves. Nothing about the call graph is written here by hand.
"""

from __future__ import annotations

import importlib
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic_settings import BaseSettings

from titanium.core import settings as settings_module
from titanium.core.metrics import metrics_endpoint
from titanium.core.registry import DATABASE_OWNERS, SERVICE_NAMES

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
OVERLAYS = ("local", "production", "production-cnpg")
ENV_PREFIX = "TITANIUM_"


def settings_class(service: str) -> type[BaseSettings]:
    return settings_module.SETTINGS_CLASSES[service]


def build(overlay: str) -> list[dict[str, Any]]:
    text = subprocess.run(["kubectl", "kustomize", str(DEPLOY / "k8s" / "overlays" / overlay)],
                          check=True, capture_output=True, text=True).stdout
    return [doc for doc in yaml.safe_load_all(text) if doc]


def load_compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


@dataclass
class Container:
    """One container that runs Titanium, and the settings it is given."""

    where: str  # e.g. "production Deployment/users container titanium"
    command: str  # "serve" or "migrate"
    services: tuple[str, ...]  # whose settings it reads
    env: dict[str, str | None]  # TITANIUM_* name -> value (None: from a Secret)
    ports: dict[str, int] = field(default_factory=dict)
    probes: dict[str, dict[str, Any]] = field(default_factory=dict)
    pod_labels: dict[str, str] = field(default_factory=dict)

    def listening_port(self) -> int:
        """The port the service listens on: TITANIUM_PORT, else its settings' default."""
        value = self.env.get(f"{ENV_PREFIX}PORT")
        return int(value) if value else settings_class(self.services[0]).model_fields["port"].default


def _titanium_command(args: list[str]) -> tuple[str, tuple[str, ...]] | None:
    """("serve", (service,)) or ("migrate", services) from a container's arguments."""
    words = " ".join(args).replace(";", " ").replace("&&", " ").split()
    if "serve" in words:
        return "serve", (words[words.index("serve") + 1],)
    if "migrate" in words:
        named = tuple(word for word in words[words.index("migrate") + 1:] if word in SERVICE_NAMES)
        return "migrate", named or DATABASE_OWNERS
    return None


def _pod_specs(objects: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(obj, obj["spec"]["template"]) for obj in objects if obj["kind"] in ("Deployment", "StatefulSet")]


def k8s_containers(overlay: str, objects: list[dict[str, Any]]) -> list[Container]:
    config_maps = {obj["metadata"]["name"]: obj.get("data", {}) for obj in objects if obj["kind"] == "ConfigMap"}
    found = []
    for workload, template in _pod_specs(objects):
        spec = template["spec"]
        for container in spec.get("initContainers", []) + spec["containers"]:
            command = _titanium_command(container.get("command", []) + container.get("args", []))
            if command is None:
                continue
            env: dict[str, str | None] = {}
            for source in container.get("envFrom", []):
                assert "configMapRef" in source, f"{workload['metadata']['name']}: envFrom hides its keys: {source}"
                env |= config_maps[source["configMapRef"]["name"]]
            for var in container.get("env", []):
                env[var["name"]] = var.get("value")
            found.append(Container(
                where=f"{overlay} {workload['kind']}/{workload['metadata']['name']} container {container['name']}",
                command=command[0], services=command[1],
                env={name: value for name, value in env.items() if name.startswith(ENV_PREFIX)},
                ports={port.get("name", str(port["containerPort"])): port["containerPort"]
                       for port in container.get("ports", [])},
                probes={kind: container[kind] for kind in ("livenessProbe", "readinessProbe", "startupProbe")
                        if kind in container},
                pod_labels=template["metadata"].get("labels", {}),
            ))
    return found


def compose_containers(compose: dict[str, Any]) -> list[Container]:
    found = []
    for name, service in compose["services"].items():
        args = service.get("command", [])
        command = _titanium_command(args if isinstance(args, list) else args.split())
        if command is None:
            continue
        found.append(Container(where=f"compose service {name}", command=command[0], services=command[1],
                               env={k: str(v) for k, v in service.get("environment", {}).items()
                                    if k.startswith(ENV_PREFIX)}))
    return found


@dataclass(frozen=True)
class Routes:
    """What a service serves, read from the app its code builds."""

    get_paths: frozenset[str]
    liveness: str
    readiness: str
    metrics: str


def service_routes(service: str, data_dir: Path) -> Routes:
    app = importlib.import_module(f"titanium.services.{service}.app").build(settings_class(service)(data_dir=data_dir))
    by_endpoint = {route.endpoint: route.path for route in app.routes if "GET" in getattr(route, "methods", ())}
    # An endpoint is a function, or an ASGI callable (the gateway's forwarders) named by its class.
    by_name = {getattr(endpoint, "__name__", type(endpoint).__name__): path for endpoint, path in by_endpoint.items()}
    return Routes(get_paths=frozenset(by_endpoint.values()), liveness=by_name["health"],
                  readiness=by_name["ready"], metrics=by_endpoint[metrics_endpoint])


def url_field_target(field_name: str) -> str | None:
    """The peer a setting names: `<service>_url` a service, `redis_url` Redis, `*_database_url` PostgreSQL."""
    if field_name == "redis_url":
        return "redis"
    if field_name.endswith("_database_url"):
        return "postgres"
    match = re.fullmatch(r"(\w+)_url", field_name)
    return match.group(1) if match and match.group(1) in SERVICE_NAMES else None


def call_graph() -> set[tuple[str, str]]:
    """Who calls whom, from the settings classes alone."""
    return {(service, target) for service in SERVICE_NAMES for name in settings_class(service).model_fields
            if (target := url_field_target(name))}
