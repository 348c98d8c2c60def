"""The manifests set exactly the settings the services read, and serve on the ports and paths the code serves.

Each container that runs `titanium serve X` (in every overlay and in
deploy/compose.yaml) must set every field of X's settings class and nothing
else; `titanium migrate` containers may set only what the migrated services
read, and must name their databases. Ports, probe paths and the metrics path
are checked against the app each service's code builds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.deploy.manifests import (
    ENV_PREFIX,
    Container,
    compose_containers,
    k8s_containers,
    load_compose,
    service_routes,
    settings_class,
    url_field_target,
)
from titanium.core.registry import SERVICE_NAMES

# Settings that stand in for each other: the signing key, and the keys that
# only verify, as PEM text or as a file (core/settings.py AuthSettings).
ALTERNATIVES = {"jwt_private_key": "jwt_private_key_file", "jwt_private_key_file": "jwt_private_key",
                "jwt_verification_keys": "jwt_verification_keys_file",
                "jwt_verification_keys_file": "jwt_verification_keys"}
# A stand-in for a value that comes from a Secret, so the settings class can parse the rest.
SECRET_STAND_INS = {"database_url": "postgresql://titanium:secret@postgres:5432/titanium", "redis_url": "redis://redis:6379/0",
                    "jwt_private_key": "PEM",
                    "database_read_url": "postgresql://titanium:secret@postgres-ro:5432/titanium"}


def _fields(container: Container) -> set[str]:
    return {name for service in container.services for name in settings_class(service).model_fields}


def _set(container: Container) -> set[str]:
    return {name.removeprefix(ENV_PREFIX).lower() for name in container.env}


def _all_containers(objects_by_overlay: tuple[str, list[dict[str, Any]]]) -> list[Container]:
    return k8s_containers(*objects_by_overlay)


def _check_settings(containers: list[Container]) -> list[str]:
    problems = []
    assert containers, "no container runs titanium"
    for container in containers:
        fields, given = _fields(container), _set(container)
        problems += [f"{container.where}: sets {ENV_PREFIX}{name.upper()}, which no {'/'.join(container.services)} "
                     f"setting reads" for name in sorted(given - fields)]
        if container.command == "serve":
            missing = {name for name in fields - given if ALTERNATIVES.get(name) not in given}
        else:
            missing = {f"{service}_database_url" for service in container.services} - given
        problems += [f"{container.where}: {ENV_PREFIX}{name.upper()} is read by {'/'.join(container.services)} "
                     f"but set by no manifest" for name in sorted(missing)]
        if not problems:
            for service in container.services:
                _parse(container, service)
    return problems


def _parse(container: Container, service: str) -> None:
    """The values must be ones the settings class accepts (a port is a number, a duration a float...)."""
    cls = settings_class(service)
    values = {}
    for name, value in container.env.items():
        field_name = name.removeprefix(ENV_PREFIX).lower()
        if field_name not in cls.model_fields:
            continue
        if value is None:
            value = next(stand_in for suffix, stand_in in SECRET_STAND_INS.items() if field_name.endswith(suffix))
        values[field_name] = value
    cls(**values)


def test_every_overlay_sets_exactly_the_settings_the_services_read(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    problems = _check_settings(_all_containers(overlay))
    assert not problems, "\n".join(problems)


def test_compose_sets_exactly_the_settings_the_services_read() -> None:
    problems = _check_settings(compose_containers(load_compose()))
    assert not problems, "\n".join(problems)


def test_every_service_runs_in_every_overlay(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    served = {c.services[0] for c in _all_containers(overlay) if c.command == "serve"}
    assert served == set(SERVICE_NAMES)


def _services(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == "Service"}


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def _resolve(port: int | str, container: Container) -> int | None:
    return port if isinstance(port, int) else container.ports.get(port)


def test_ports_and_probes_are_the_ones_each_service_serves(overlay: tuple[str, list[dict[str, Any]]],
                                                           tmp_path: Path) -> None:
    name, objects = overlay
    routes = {service: service_routes(service, tmp_path) for service in SERVICE_NAMES}
    services = _services(objects)
    problems = []
    for container in (c for c in _all_containers(overlay) if c.command == "serve"):
        service, listening = container.services[0], container.listening_port()
        served = routes[service]
        if listening not in container.ports.values():
            problems.append(f"{container.where}: listens on {listening}, declares ports {container.ports}")
        expected = {"livenessProbe": served.liveness, "startupProbe": served.liveness, "readinessProbe": served.readiness}
        for kind, path in expected.items():
            probe = container.probes.get(kind, {}).get("httpGet")
            if probe is None:
                problems.append(f"{container.where}: no HTTP {kind}")
            elif probe["path"] != path or _resolve(probe["port"], container) != listening:
                problems.append(f"{container.where}: {kind} asks {probe['port']}{probe['path']}, "
                                f"the service serves {path} on {listening}")
        fronting = [svc for svc in services.values() if _selects(svc["spec"]["selector"], container.pod_labels)]
        if not fronting:
            problems.append(f"{container.where}: no Service selects it")
        for svc in fronting:
            for port in svc["spec"]["ports"]:
                if _resolve(port["targetPort"], container) != listening:
                    problems.append(f"{name} Service/{svc['metadata']['name']}: targets {port['targetPort']}, "
                                    f"the service listens on {listening}")
    assert not problems, "\n".join(problems)


def _service_port(services: dict[str, dict[str, Any]], host: str) -> int | None:
    svc = services.get(host.split(".")[0])
    return svc["spec"]["ports"][0]["port"] if svc else None


def test_every_url_setting_names_the_service_and_port_it_means(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = overlay
    services = _services(objects)
    problems = []
    for container in _all_containers(overlay):
        for name, value in container.env.items():
            target = url_field_target(name.removeprefix(ENV_PREFIX).lower())
            if target is None or value is None:
                continue
            url = urlsplit(value)
            if url.hostname is None or url.hostname.split(".")[0] != target:
                problems.append(f"{container.where}: {name}={value} does not name the {target} Service")
            elif url.port != _service_port(services, url.hostname):
                problems.append(f"{container.where}: {name}={value}, the {target} Service's port is "
                                f"{_service_port(services, url.hostname)}")
    assert not problems, "\n".join(problems)


def test_compose_urls_reach_the_port_each_service_listens_on() -> None:
    containers = {c.services[0]: c for c in compose_containers(load_compose()) if c.command == "serve"}
    problems = []
    for container in containers.values():
        for name, value in container.env.items():
            target = url_field_target(name.removeprefix(ENV_PREFIX).lower())
            if target in containers and urlsplit(value or "").port != containers[target].listening_port():
                problems.append(f"{container.where}: {name}={value}, {target} listens on "
                                f"{containers[target].listening_port()}")
    assert not problems, "\n".join(problems)


def test_metrics_are_scraped_where_each_service_serves_them(production: list[dict[str, Any]], tmp_path: Path) -> None:
    services = _services(production)
    containers = {c.services[0]: c for c in k8s_containers("production", production) if c.command == "serve"}
    monitors = [obj for obj in production if obj["kind"] == "ServiceMonitor"]
    scraped = set()
    problems = []
    for monitor in monitors:
        selector = monitor["spec"]["selector"]["matchLabels"]
        for svc in (s for s in services.values() if _selects(selector, s["metadata"].get("labels", {}))):
            service = svc["metadata"]["name"]
            routes = service_routes(service, tmp_path)
            for endpoint in monitor["spec"]["endpoints"]:
                port = next((p for p in svc["spec"]["ports"] if p["name"] == endpoint["port"]), None)
                if port is None or _resolve(port["targetPort"], containers[service]) != containers[service].listening_port():
                    problems.append(f"ServiceMonitor/{monitor['metadata']['name']}: port {endpoint['port']} of {service} "
                                    f"is not the one it listens on")
                if endpoint.get("path", "/metrics") != routes.metrics:
                    problems.append(f"ServiceMonitor/{monitor['metadata']['name']}: scrapes {endpoint.get('path')} "
                                    f"of {service}, which serves its metrics at {routes.metrics}")
            scraped.add(service)
    assert not problems, "\n".join(problems)
    assert scraped == set(SERVICE_NAMES), "every service is scraped"


@pytest.mark.parametrize("kind", ["DestinationRule", "VirtualService"])
def test_mesh_routes_use_the_service_ports(production: list[dict[str, Any]], kind: str) -> None:
    services = _services(production)
    problems = []
    for obj in (o for o in production if o["kind"] == kind):
        host = obj["spec"].get("host", "").split(".")[0]
        if kind == "DestinationRule" and host not in services:
            problems.append(f"DestinationRule/{obj['metadata']['name']}: no Service {host}")
        for route in obj["spec"].get("http", []):
            for destination in (r["destination"] for r in route["route"]):
                name = destination["host"].split(".")[0]
                if destination.get("port", {}).get("number") != _service_port(services, name):
                    problems.append(f"VirtualService/{obj['metadata']['name']}: sends to {name}:"
                                    f"{destination.get('port')}, the Service's port is {_service_port(services, name)}")
    assert not problems, "\n".join(problems)
