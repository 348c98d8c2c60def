"""`make deploy-check` fails when a canary's analysis or a custom resource is broken, not only passes when they are not.

The analysis check (deploy/tools/analysis_queries.py) runs on a copy of the
production build with one thing broken; the schema check
(deploy/tools/validate_manifests.py) validates a broken copy of an object.
Both need what deploy-check needs: kubectl, and promtool for the analysis.
"""

from __future__ import annotations

import copy
import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.manifests import DEPLOY

TOOLS = DEPLOY / "tools"


def _tool(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(TOOLS))  # the tools import their neighbours
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(TOOLS))
    return module


def _first(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return copy.deepcopy(next(obj for obj in objects if obj["kind"] == kind))


def _analysis_check(objects: list[dict[str, Any]], build: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("promtool") is None:
        pytest.fail("promtool is missing: apt-get install prometheus (make deploy-check installs it as root)")
    build.mkdir(exist_ok=True)
    (build / "production.yaml").write_text(yaml.safe_dump_all(objects))
    return subprocess.run([sys.executable, str(TOOLS / "analysis_queries.py"), "--build", str(build)],
                          capture_output=True, text=True, check=False)


def _with_template(objects: list[dict[str, Any]], change: Callable[[dict[str, Any]], None]) -> list[dict[str, Any]]:
    changed = copy.deepcopy(objects)
    change(next(obj for obj in changed if obj["kind"] == "AnalysisTemplate"))
    return changed


def _error_metric(template: dict[str, Any]) -> dict[str, Any]:
    return next(metric for metric in template["spec"]["metrics"] if "error" in metric["name"])


def test_the_shipped_analysis_passes(production: list[dict[str, Any]], tmp_path: Path) -> None:
    result = _analysis_check(production, tmp_path / "build")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_a_query_naming_a_series_nothing_produces_fails(production: list[dict[str, Any]], tmp_path: Path) -> None:
    def misnamed(template: dict[str, Any]) -> None:
        prometheus = _error_metric(template)["provider"]["prometheus"]
        prometheus["query"] = prometheus["query"].replace("ratio_rate2m", "ratio_rate1m")

    result = _analysis_check(_with_template(production, misnamed), tmp_path / "build")
    assert result.returncode == 1
    assert "names service_revision:http_errors:ratio_rate1m, which no recording rule records and no service exports" \
        in result.stderr


def test_a_query_selecting_a_label_no_series_carries_fails_in_promtool(production: list[dict[str, Any]],
                                                                      tmp_path: Path) -> None:
    def mislabelled(template: dict[str, Any]) -> None:
        prometheus = _error_metric(template)["provider"]["prometheus"]
        prometheus["query"] = prometheus["query"].replace("rollouts_pod_template_hash=", "pod_template_hash=")

    result = _analysis_check(_with_template(production, mislabelled), tmp_path / "build")
    assert result.returncode == 1
    assert "FAILED" in result.stdout and "got: nil" in result.stdout


def test_a_threshold_that_lets_a_burning_canary_through_fails(production: list[dict[str, Any]], tmp_path: Path) -> None:
    def lenient(template: dict[str, Any]) -> None:
        metric = _error_metric(template)
        metric["successCondition"] = "len(result) > 0 && result[0] <= 0.5"
        metric["failureCondition"] = "len(result) > 0 && result[0] > 0.5"

    result = _analysis_check(_with_template(production, lenient), tmp_path / "build")
    assert result.returncode == 1 and "FAILED" in result.stdout


def test_a_condition_the_check_cannot_read_fails(production: list[dict[str, Any]], tmp_path: Path) -> None:
    def unreadable(template: dict[str, Any]) -> None:
        _error_metric(template)["successCondition"] = "result[0] < 0.005 || isNaN(result[0])"

    result = _analysis_check(_with_template(production, unreadable), tmp_path / "build")
    assert result.returncode == 1 and "write the condition as" in result.stderr


@pytest.fixture(scope="module")
def validate() -> Callable[[dict[str, Any]], str]:
    return _tool("validate_manifests").validate


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(obj: dict[str, Any]) -> None:
        node = obj
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


BROKEN = {
    "Rollout, a misspelt field": ("Rollout", _set(["spec", "strategy", "canary", "stepz"], [])),
    "Rollout, a weight that is not a number": ("Rollout", _set(["spec", "strategy", "canary", "steps", 0, "setWeight"], "ten")),
    "Rollout, a misspelt metadata field": ("Rollout", _set(["metadata", "lables"], {})),
    "AnalysisTemplate, a misspelt provider field":
        ("AnalysisTemplate", _set(["spec", "metrics", 0, "provider", "prometheus", "qurey"], "up")),
    "ExternalSecret, a refresh interval that is not a string": ("ExternalSecret", _set(["spec", "refreshInterval"], 1)),
    "SecretStore, an unknown provider": ("SecretStore", _set(["spec", "provider", "keepass"], {})),
}


def test_the_shipped_custom_resources_pass(production: list[dict[str, Any]], validate) -> None:
    for kind in {kind for kind, _ in BROKEN.values()}:
        assert validate(_first(production, kind)) == "vendored"


@pytest.mark.parametrize("case", BROKEN)
def test_a_custom_resource_that_breaks_its_crds_schema_fails(production: list[dict[str, Any]], validate, case: str) -> None:
    kind, change = BROKEN[case]
    broken = _first(production, kind)
    change(broken)
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def test_a_kind_with_no_schema_fails(validate) -> None:
    with pytest.raises(LookupError, match="no schema"):
        validate({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
