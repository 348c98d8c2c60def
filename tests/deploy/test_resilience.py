"""In the mesh, a failing pod is taken out and a request that never reached a pod goes to another.

Every service has a DestinationRule that ejects an endpoint after consecutive
5xx or gateway errors, and a VirtualService (the in-mesh route, and for the
gateway the ingress route too) whose retries resend any request that never
reached a pod and, for idempotent methods only, one that failed after it did.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from titanium.core.registry import SERVICE_NAMES

IDEMPOTENT = {"GET", "HEAD", "OPTIONS"}
# Envoy retry conditions met only when the request never reached a pod.
NEVER_REACHED = {"connect-failure", "refused-stream", "reset-before-request"}
DURATION = re.compile(r"^\d+(\.\d+)?(ms|s|m|h)$")


def _host(service: str) -> str:
    return f"{service}.titanium.svc.cluster.local"


def _of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def _route_methods(route: dict[str, Any]) -> set[str] | None:
    """The methods a route matches (None: any method)."""
    matches = route.get("match")
    if not matches:
        return None
    methods: set[str] = set()
    for match in matches:
        method = match.get("method")
        if method is None:
            return None
        methods |= {method["exact"]} if "exact" in method else set(method["regex"].split("|"))
    return methods


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_failing_endpoints_are_ejected(production: list[dict[str, Any]], service: str) -> None:
    rule, = (r for r in _of_kind(production, "DestinationRule") if r["spec"]["host"] == _host(service))
    outlier = rule["spec"]["trafficPolicy"]["outlierDetection"]
    assert outlier.get("consecutive5xxErrors", 0) > 0 and outlier.get("consecutiveGatewayErrors", 0) > 0
    assert DURATION.match(outlier["baseEjectionTime"]) and DURATION.match(outlier["interval"])
    # Never all of them: with every endpoint ejected nothing would answer at all.
    assert 0 < outlier["maxEjectionPercent"] < 100


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_retries_resend_only_what_is_safe(production: list[dict[str, Any]], service: str) -> None:
    service_routes = [vs for vs in _of_kind(production, "VirtualService") if _host(service) in vs["spec"]["hosts"]]
    assert len(service_routes) == 1, f"{service}: one VirtualService for its host"
    routes = service_routes[0]["spec"]["http"]
    assert routes[-1].get("match") is None, f"{service}: the last route catches every other request"
    covered_idempotent = False
    for route in routes:
        retries, methods = route["retries"], _route_methods(route)
        policies = set(retries["retryOn"].split(","))
        assert retries["attempts"] == 2 and DURATION.match(retries["perTryTimeout"]), route["name"]
        assert DURATION.match(route["timeout"]), route["name"]
        assert {"connect-failure", "refused-stream"} <= policies, f"{service} {route['name']}: requests that never reached a pod"
        if methods is not None and methods <= IDEMPOTENT:
            covered_idempotent = True
            assert {"reset", "503"} <= policies, f"{service} {route['name']}: idempotent requests after a reset or a 503"
        else:
            assert policies <= NEVER_REACHED, \
                f"{service} {route['name']}: a write could be applied twice: {policies - NEVER_REACHED}"
    assert covered_idempotent, f"{service}: no route retries idempotent requests after a reset or a 503"


def test_ingress_routes_have_the_same_retries(production: list[dict[str, Any]]) -> None:
    """The public entry: the ingress Gateway's traffic goes through the gateway's VirtualService and its retries."""
    gateway_name, = (g["metadata"]["name"] for g in _of_kind(production, "Gateway"))
    public_hosts = {host for g in _of_kind(production, "Gateway") for server in g["spec"]["servers"] for host in server["hosts"]}
    bound = [vs for vs in _of_kind(production, "VirtualService") if gateway_name in vs["spec"].get("gateways", [])]
    assert [vs["metadata"]["name"] for vs in bound] == ["gateway"]
    assert public_hosts <= set(bound[0]["spec"]["hosts"])
    assert all(route["retries"]["attempts"] == 2 for route in bound[0]["spec"]["http"])
