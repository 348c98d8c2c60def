"""The NetworkPolicies and AuthorizationPolicies allow exactly the calls the services make.

The calls come from the settings classes (`<service>_url`, `redis_url`,
`*_database_url`), plus the two that come from outside: the ingress gateway
to the gateway, Prometheus to every service. Each policy set is evaluated
here, as Kubernetes and Istio would, for every pair of workloads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.requests import Request

from tests.deploy.manifests import call_graph, service_routes
from titanium.core.authn import REVOCATIONS_PATH
from titanium.core.jwks import JWKS_PATH
from titanium.core.registry import SERVICE_NAMES, SERVICES
from titanium.services.gateway.app import upstream_path

NAMESPACE = "titanium"
NAME_LABEL = "app.kubernetes.io/name"
# The callers from outside the namespace, as Terraform installs them
# (deploy/terraform: the Istio ingress gateway chart, kube-prometheus-stack).
INGRESS = "ingress"
PROMETHEUS = "prometheus"


@dataclass(frozen=True)
class Peer:
    name: str
    namespace: str
    labels: dict[str, str]
    principal: str
    port: int | None = None  # the port it answers on, for workloads of ours

    def __hash__(self) -> int:
        return hash(self.name)


EXTERNAL = [
    Peer(INGRESS, "istio-system", {"istio": "ingressgateway", "app": "istio-ingressgateway"},
         "cluster.local/ns/istio-system/sa/istio-ingressgateway"),
    Peer(PROMETHEUS, "monitoring", {NAME_LABEL: "prometheus"}, "cluster.local/ns/monitoring/sa/prometheus-stack-prometheus"),
]
# What the platform itself needs to reach outside the namespace, and nothing else: DNS, the mesh's
# control plane, and the trace collector's OTLP/HTTP port (deploy/k8s/telemetry).
INFRASTRUCTURE_EGRESS = {("kube-system", "k8s-app", "kube-dns", 53), ("istio-system", "app", "istiod", 15012),
                         ("monitoring", "app.kubernetes.io/name", "otel-collector", 4318)}


def expected_flows() -> set[tuple[str, str]]:
    return call_graph() | {(INGRESS, "gateway")} | {(PROMETHEUS, service) for service in SERVICE_NAMES}


# PostgreSQL's port on the instances the CloudNativePG operator makes for a Cluster.
POSTGRES_PORT = 5432


def _operated_postgres(cluster: dict[str, Any]) -> Peer:
    """The instances of a CloudNativePG Cluster: labelled with its inherited labels and cnpg.io/cluster, run as a
    ServiceAccount named after it (the operator's conventions)."""
    name = cluster["metadata"]["name"]
    labels = {**cluster["spec"].get("inheritedMetadata", {}).get("labels", {}), "cnpg.io/cluster": name}
    return Peer(labels[NAME_LABEL], NAMESPACE, labels, f"cluster.local/ns/{NAMESPACE}/sa/{name}", POSTGRES_PORT)


def workloads(objects: list[dict[str, Any]]) -> list[Peer]:
    found = [_operated_postgres(obj) for obj in objects if obj["kind"] == "Cluster"]
    for obj in (o for o in objects if o["kind"] in ("Deployment", "StatefulSet")):
        spec = obj["spec"]["template"]["spec"]
        ports = [port["containerPort"] for container in spec["containers"] for port in container.get("ports", [])]
        assert len(ports) == 1, f"{obj['metadata']['name']} answers on one port"
        labels = obj["spec"]["template"]["metadata"]["labels"]
        found.append(Peer(labels[NAME_LABEL], NAMESPACE, labels,
                          f"cluster.local/ns/{NAMESPACE}/sa/{spec['serviceAccountName']}", ports[0]))
    return found


def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, f"only matchLabels selectors are modelled: {selector}"
    return all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items())


def _peer_matches(rule_peer: dict[str, Any], peer: Peer) -> bool:
    assert "ipBlock" not in rule_peer, "ipBlock peers are not expected"
    if "namespaceSelector" in rule_peer:
        if not _matches(rule_peer["namespaceSelector"], {"kubernetes.io/metadata.name": peer.namespace}):
            return False
    elif peer.namespace != NAMESPACE:
        return False
    return _matches(rule_peer.get("podSelector", {}), peer.labels)


def _port_matches(rule: dict[str, Any], port: int) -> bool:
    return not rule.get("ports") or any(p.get("port") == port and p.get("protocol", "TCP") == "TCP" for p in rule["ports"])


def _policy_allows(policies: list[dict[str, Any]], direction: str, subject: Peer, other: Peer, port: int) -> bool:
    """Whether the NetworkPolicies selecting `subject` let traffic to/from `other` on `port` through."""
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    selecting = [p for p in policies if direction in p["spec"].get("policyTypes", ["Ingress"])
                 and _matches(p["spec"]["podSelector"], subject.labels)]
    if not selecting:
        return True
    rules = [rule for policy in selecting for rule in policy["spec"].get(key, [])]
    return any(_port_matches(rule, port) and (not rule.get(peers_key) or any(_peer_matches(p, other) for p in rule[peers_key]))
               for rule in rules)


def network_flows(objects: list[dict[str, Any]]) -> set[tuple[str, str]]:
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    ours = workloads(objects)
    flows = set()
    for destination in ours:
        assert destination.port is not None
        for source in ours + EXTERNAL:
            inbound = _policy_allows(policies, "Ingress", destination, source, destination.port)
            outbound = source.namespace != NAMESPACE or _policy_allows(policies, "Egress", source, destination, destination.port)
            if inbound and outbound and source != destination:
                flows.add((source.name, destination.name))
    return flows


def test_network_policies_allow_exactly_the_call_graph(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = overlay
    flows = network_flows(objects)
    assert flows - expected_flows() == set(), "allowed, but no service makes these calls"
    assert expected_flows() - flows == set(), "made by the services, but blocked"


def test_network_policies_deny_by_default(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = overlay
    deny = [o for o in objects if o["kind"] == "NetworkPolicy" and o["spec"]["podSelector"] == {}
            and set(o["spec"]["policyTypes"]) == {"Ingress", "Egress"} and not o["spec"].get("ingress")
            and not o["spec"].get("egress")]
    assert deny, "a policy selecting every pod, allowing nothing"


def test_egress_leaves_the_namespace_only_for_dns_and_the_mesh(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = overlay
    leaving = set()
    for policy in (o for o in objects if o["kind"] == "NetworkPolicy"):
        for rule in policy["spec"].get("egress", []):
            for peer in rule.get("to", []):
                if "namespaceSelector" in peer:
                    namespace = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                    (label, value), = peer["podSelector"]["matchLabels"].items()
                    leaving |= {(namespace, label, value, port["port"]) for port in rule["ports"]}
    assert leaving <= INFRASTRUCTURE_EGRESS


# --- Istio ---------------------------------------------------------------------------------------


def _istio_path_matches(pattern: str, path: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return path.endswith(pattern[1:])
    return path == pattern


def _operation_matches(to: list[dict[str, Any]] | None, method: str | None, path: str | None) -> bool:
    if not to:
        return True
    for operation in (entry["operation"] for entry in to):
        methods_ok = method is None or "methods" not in operation or method in operation["methods"]
        paths_ok = path is None or "paths" not in operation or any(_istio_path_matches(p, path) for p in operation["paths"])
        if methods_ok and paths_ok:
            return True
    return False


def authz_allows(objects: list[dict[str, Any]], source: Peer, destination: Peer,
                 method: str | None = None, path: str | None = None) -> bool:
    """Istio's verdict for a request (any request when method and path are None) from source to destination."""
    policies = [o for o in objects if o["kind"] == "AuthorizationPolicy"
                and _matches(o["spec"].get("selector", {}), destination.labels)]
    assert all(p["spec"].get("action", "ALLOW") == "ALLOW" for p in policies), "only ALLOW policies are modelled"
    assert policies, f"no AuthorizationPolicy covers {destination.name}: Istio would allow everything"
    for rule in (rule for policy in policies for rule in policy["spec"].get("rules", [])):
        sources = [entry["source"] for entry in rule.get("from", [])]
        assert all(set(s) <= {"principals"} for s in sources), "only principals are modelled"
        if sources and not any(source.principal in s["principals"] for s in sources):
            continue
        if _operation_matches(rule.get("to"), method, path):
            return True
    return False


@pytest.fixture(scope="module")
def peers(production: list[dict[str, Any]]) -> dict[str, Peer]:
    return {peer.name: peer for peer in workloads(production) + EXTERNAL}


def test_mutual_tls_is_strict(production: list[dict[str, Any]]) -> None:
    modes = [o["spec"]["mtls"]["mode"] for o in production if o["kind"] == "PeerAuthentication" and "selector" not in o["spec"]]
    assert modes == ["STRICT"]


def test_authorization_policies_allow_exactly_the_call_graph(production: list[dict[str, Any]], peers: dict[str, Peer]) -> None:
    ours = [peer for peer in peers.values() if peer.namespace == NAMESPACE]
    flows = {(source.name, destination.name) for destination in ours for source in peers.values()
             if source != destination and authz_allows(production, source, destination)}
    assert flows - expected_flows() == set(), "allowed, but no service makes these calls"
    assert expected_flows() - flows == set(), "made by the services, but denied"


def test_only_auth_may_check_credentials(production: list[dict[str, Any]], peers: dict[str, Peer]) -> None:
    callers = {name for name, peer in peers.items()
               if authz_allows(production, peer, peers["users"], "POST", "/internal/credentials/verify")}
    assert callers == {"auth"}
    assert not authz_allows(production, peers["gateway"], peers["users"], "POST", "/internal/anything")


def _sample_request(path_template: str, method: str) -> Request:
    params = {name: "sample" for name in re.findall(r"{(\w+)(?::\w+)?}", path_template)}
    path = re.sub(r"{(\w+)(?::\w+)?}", "sample", path_template)
    return Request({"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
                    "headers": [], "path_params": params, "server": ("gateway", 8000), "scheme": "http", "root_path": ""})


def test_the_calls_the_code_makes_are_authorized(production: list[dict[str, Any]], peers: dict[str, Peer], tmp_path) -> None:
    calls = [("auth", "users", "POST", "/internal/credentials/verify"), ("blog", "auth", "GET", JWKS_PATH)]
    # Sessions (services/auth/sessions.py) and the revocation list (core/authn.py).
    calls += [("auth", "users", "POST", path) for path in ("/internal/sessions", "/internal/sessions/renew",
                                                           "/internal/sessions/end", "/internal/users/7/delete")]
    calls += [("auth", "users", "PUT", "/internal/users/7/password"), ("auth", "users", "GET", "/internal/revocations"),
              ("blog", "auth", "GET", REVOCATIONS_PATH)]
    # Profiles and follows (services/auth/profiles.py).
    calls += [("auth", "users", "GET", path) for path in ("/internal/profiles/sample", "/internal/users/7/profile",
                                                          "/internal/users/7/following")]
    calls += [("auth", "users", "PATCH", "/internal/users/7/profile"),
              ("auth", "users", "PUT", "/internal/users/7/following/sample"),
              ("auth", "users", "DELETE", "/internal/users/7/following/sample")]
    # The RealWorld API's calls (services/realworld): accounts, profiles and follows, posts, comments.
    calls += [("realworld", "users", "POST", "/users"), ("realworld", "auth", "POST", "/auth/login"),
              ("realworld", "auth", "GET", "/auth/profile"), ("realworld", "auth", "PATCH", "/auth/profile"),
              ("realworld", "auth", "GET", "/auth/users/sample")]
    calls += [("realworld", "auth", method, "/auth/users/sample/follow") for method in ("POST", "DELETE")]
    calls += [("realworld", "blog", method, path) for method, path in (
        ("GET", "/blog/api/posts"), ("GET", "/blog/api/posts/count"), ("GET", "/blog/api/feed"),
        ("GET", "/blog/api/feed/count"), ("GET", "/blog/api/tags"), ("GET", "/blog/api/posts/7"),
        ("POST", "/blog/api/posts"), ("PATCH", "/blog/api/posts/7"), ("DELETE", "/blog/api/posts/7"),
        ("PUT", "/blog/api/posts/7/favourite"), ("DELETE", "/blog/api/posts/7/favourite"))]
    calls += [("realworld", "comments", method, path) for method, path in (
        ("GET", "/blog/api/posts/7/comments"), ("POST", "/blog/api/posts/7/comments"),
        ("DELETE", "/blog/api/posts/7/comments/3"))]
    # Comments (services/comments/blog_link.py, services/blog/comments_link.py): tokens, whether a post is
    # public, the counts and the page's comments, and deleted posts (both outboxes).
    calls += [("comments", "auth", "GET", JWKS_PATH), ("comments", "auth", "GET", REVOCATIONS_PATH),
              ("comments", "blog", "GET", "/blog/api/posts/7"),
              ("comments", "blog", "PUT", "/internal/posts/7/comment-count"),
              ("blog", "comments", "GET", "/blog/api/posts/7/comments"),
              ("blog", "comments", "DELETE", "/internal/posts/7/comments")]
    # The gateway forwards each public route to one service, at a path its route computes.
    for entry in SERVICES:
        for route in entry.public_routes:
            for method in route.methods:
                target = upstream_path(route)(_sample_request(route.path, method).scope)
                if target is not None:
                    calls.append(("gateway", entry.name, method, target))
    # The dashboard asks every service it knows for its status and its metrics (the golden signals it
    # charts); Prometheus scrapes every service.
    calls += [("dashboard", target, "GET", path) for caller, target in call_graph() if caller == "dashboard"
              for path in ("/status", "/metrics")]
    calls += [(PROMETHEUS, service, "GET", service_routes(service, tmp_path).metrics) for service in SERVICE_NAMES]
    denied = [call for call in calls if not authz_allows(production, peers[call[0]], peers[call[1]], call[2], call[3])]
    assert not denied, "denied: " + ", ".join(f"{s} -> {d} {m} {p}" for s, d, m, p in denied)
