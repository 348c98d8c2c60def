"""Every canary release is wired end to end: its pods, its scaling, its Istio routes, its analysis, its series.

What schemas cannot see (deploy/k8s/rollouts): the Rollout takes its pod
template from the service's Deployment and the HPA scales the Rollout; every
route of the service's VirtualService is split between the stable and the
canary subset of its DestinationRule, so that no request bypasses the
canary's weight; the analysis gets every argument it needs; the series it
compares carry the pods' hash; and Argo CD may sync it all.
"""

from __future__ import annotations

import itertools
from typing import Any

import yaml

from tests.deploy.manifests import DEPLOY
from titanium.core.registry import SERVICE_NAMES

HASH_LABEL = "rollouts_pod_template_hash"


def _of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


def rollouts(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return list(_of_kind(objects, "Rollout").values())


def test_the_gateway_and_the_blog_are_released_as_canaries(production: list[dict[str, Any]]) -> None:
    assert {"gateway", "blog"} <= set(_of_kind(production, "Rollout"))


def test_each_rollout_runs_its_deployments_pods_and_is_the_one_scaled(production: list[dict[str, Any]]) -> None:
    deployments, autoscalers = _of_kind(production, "Deployment"), _of_kind(production, "HorizontalPodAutoscaler")
    problems = []
    for rollout in rollouts(production):
        name, ref = rollout["metadata"]["name"], rollout["spec"]["workloadRef"]
        deployment = deployments.get(ref["name"])
        if ref["kind"] != "Deployment" or deployment is None:
            problems.append(f"Rollout/{name}: refers to {ref['kind']}/{ref['name']}, which is not in the overlay")
            continue
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        if any(labels.get(key) != value for key, value in rollout["spec"]["selector"]["matchLabels"].items()):
            problems.append(f"Rollout/{name}: its selector does not select the pods of Deployment/{ref['name']}")
        if ref.get("scaleDown") != "progressively":
            problems.append(f"Rollout/{name}: the Deployment's pods must give way as the Rollout's come up")
        target = autoscalers[ref["name"]]["spec"]["scaleTargetRef"]
        if (target["kind"], target["name"]) != ("Rollout", name):
            problems.append(f"HorizontalPodAutoscaler/{ref['name']} scales {target['kind']}/{target['name']}, not the Rollout")
    assert not problems, "\n".join(problems)


def test_every_route_of_a_canaried_service_is_split_between_stable_and_canary(production: list[dict[str, Any]]) -> None:
    for rollout in rollouts(production):
        service = rollout["metadata"]["name"]
        istio = rollout["spec"]["strategy"]["canary"]["trafficRouting"]["istio"]
        virtual_service = _of_kind(production, "VirtualService")[istio["virtualService"]["name"]]
        rule = _of_kind(production, "DestinationRule")[istio["destinationRule"]["name"]]
        subsets = (istio["destinationRule"]["stableSubsetName"], istio["destinationRule"]["canarySubsetName"])
        host = f"{service}.titanium.svc.cluster.local"
        assert rule["spec"]["host"] == host, service
        assert {subset["name"] for subset in rule["spec"]["subsets"]} >= set(subsets), service
        routes = {route["name"]: route for route in virtual_service["spec"]["http"]}
        assert set(istio["virtualService"]["routes"]) == set(routes), f"{service}: a route the Rollout does not weigh"
        for route in routes.values():
            destinations = [(d["destination"]["host"], d["destination"].get("subset"), d.get("weight"))
                            for d in route["route"]]
            assert destinations == [(host, subsets[0], 100), (host, subsets[1], 0)], f"{service} {route['name']}"


def test_the_steps_go_through_10_25_and_50_percent_with_pauses_under_analysis(production: list[dict[str, Any]]) -> None:
    for rollout in rollouts(production):
        canary = rollout["spec"]["strategy"]["canary"]
        steps = canary["steps"]
        assert [step["setWeight"] for step in steps if "setWeight" in step] == [10, 25, 50]
        assert all("pause" in after for before, after in itertools.pairwise(steps) if "setWeight" in before)
        assert canary["analysis"]["startingStep"] == 1, "watched from the first pause on"


def test_each_analysis_gets_every_argument_its_template_needs(production: list[dict[str, Any]]) -> None:
    templates = _of_kind(production, "AnalysisTemplate")
    for rollout in rollouts(production):
        analysis = rollout["spec"]["strategy"]["canary"]["analysis"]
        passed = {arg["name"]: arg for arg in analysis["args"]}
        for ref in analysis["templates"]:
            needed = {arg["name"] for arg in templates[ref["templateName"]]["spec"]["args"] if "value" not in arg}
            assert needed <= set(passed), f"Rollout/{rollout['metadata']['name']} does not pass {needed - set(passed)}"
        # The template selects the service's series by this argument: the Rollout's name must be the service's.
        assert passed["service"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
        assert rollout["metadata"]["name"] in SERVICE_NAMES
        hashes = {arg["valueFrom"]["podTemplateHashValue"] for arg in passed.values()
                  if "podTemplateHashValue" in arg.get("valueFrom", {})}
        assert hashes == {"Latest", "Stable"}


def test_every_series_carries_its_pods_template_hash_under_the_label_the_rules_use(production: list[dict[str, Any]]) -> None:
    relabelings = [relabel for monitor in _of_kind(production, "ServiceMonitor").values()
                   for endpoint in monitor["spec"]["endpoints"] for relabel in endpoint.get("relabelings", [])]
    assert {"sourceLabels": ["__meta_kubernetes_pod_label_rollouts_pod_template_hash"], "targetLabel": HASH_LABEL} in relabelings
    rules = yaml.safe_load((DEPLOY / "observability" / "prometheus" / "rules" / "rollouts.rules.yml").read_text())
    assert all(HASH_LABEL in rule["expr"] for group in rules["groups"] for rule in group["rules"])


def test_argo_cd_may_sync_every_kind_and_leaves_the_weights_to_the_rollouts(production: list[dict[str, Any]]) -> None:
    argocd = DEPLOY / "k8s" / "argocd"
    project = yaml.safe_load((argocd / "project.yaml").read_text())["spec"]
    allowed = {(entry["group"], entry["kind"]) for entry in project["namespaceResourceWhitelist"]}
    allowed |= {(entry["group"], entry["kind"]) for entry in project["clusterResourceWhitelist"]}
    kinds = {(obj["apiVersion"].rpartition("/")[0], obj["kind"]) for obj in production}
    assert kinds - allowed == set(), "the AppProject refuses these kinds of the production overlay"
    application = yaml.safe_load((argocd / "application.yaml").read_text())["spec"]
    ignored = {entry["kind"]: entry for entry in application["ignoreDifferences"]}
    assert ".spec.http[].route[].weight" in ignored["VirtualService"]["jqPathExpressions"]
    assert "RespectIgnoreDifferences=true" in application["syncPolicy"]["syncOptions"]
