"""Every service of the registry (core/registry.py) is deployed, with everything a service needs, and nothing else is.

Adding a service is its folder, one registry entry, and its deploy files:
this names what is missing when one of those is forgotten.
"""

from __future__ import annotations

from typing import Any

import yaml

from tests.deploy.manifests import DEPLOY, compose_containers, k8s_containers, load_compose
from titanium.core.registry import DEFAULT_PORTS, SERVICE_NAMES

# What each service has in Kubernetes, by kind: the object named after it (NetworkPolicies: two, in and out).
PER_SERVICE = {
    "Deployment": ("{}",), "Service": ("{}",), "ServiceAccount": ("{}",), "HorizontalPodAutoscaler": ("{}",),
    "PodDisruptionBudget": ("{}",), "ConfigMap": ("titanium-{}",), "NetworkPolicy": ("{}-ingress", "{}-egress"),
    "AuthorizationPolicy": ("{}",), "DestinationRule": ("{}",), "VirtualService": ("{}",),
}


def _names(objects: list[dict[str, Any]], kind: str) -> set[str]:
    return {obj["metadata"]["name"] for obj in objects if obj["kind"] == kind}


def test_each_registered_service_has_its_kubernetes_objects(overlay):
    name, objects = overlay
    missing = [f"{kind} {pattern.format(service)}" for service in SERVICE_NAMES for kind, patterns in PER_SERVICE.items()
               for pattern in patterns if pattern.format(service) not in _names(objects, kind)]
    missing = [what for what in missing if not (name == "local" and what.split()[0] in _ISTIO_KINDS)]
    assert not missing, f"{name} overlay lacks: {', '.join(missing)}"


_ISTIO_KINDS = {"AuthorizationPolicy", "DestinationRule", "VirtualService"}


def test_kubernetes_and_compose_serve_exactly_the_registered_services(overlay):
    name, objects = overlay
    served = {container.services[0] for container in k8s_containers(name, objects) if container.command == "serve"}
    assert served == set(SERVICE_NAMES), f"{name}: serves {sorted(served)}"
    composed = {container.services[0] for container in compose_containers(load_compose())
                if container.command == "serve"}
    assert composed == set(SERVICE_NAMES)


def test_prometheus_beside_compose_scrapes_every_registered_service_on_its_port():
    config = yaml.safe_load((DEPLOY / "observability" / "prometheus" / "prometheus.yml").read_text())
    targets = {group["labels"]["service"]: group["targets"] for job in config["scrape_configs"]
               for group in job.get("static_configs", []) if "service" in group.get("labels", {})}
    assert targets == {service: [f"{service}:{port}"] for service, port in DEFAULT_PORTS.items()}
