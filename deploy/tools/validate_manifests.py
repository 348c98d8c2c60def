"""Build every Kustomize target and validate each object it makes, offline.

Built-in kinds are checked against the Kubernetes JSON schemas that the
kubernetes-validate package ships (strict: unknown fields fail), for the
cluster version we target; custom resources against the schemas vendored in
deploy/schemas: the upstream CRDs' own (deploy/tools/crd_schema.py), closed
to unknown fields as the API server's strict field validation is, or
hand-written subsets. A kind with neither fails the check. The built
manifests are written to --out, where checkov and the tests read them.

    python deploy/tools/validate_manifests.py --out .venv/deploy-build
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from kubernetes_validate import utils as k8s_schemas

DEPLOY = Path(__file__).resolve().parent.parent
KUBERNETES_VERSION = "1.32.0"
# What `kubectl kustomize` builds, by name: the overlays, the telemetry pipeline and Argo CD's objects.
TARGETS = {
    "local": DEPLOY / "k8s" / "overlays" / "local",
    "production": DEPLOY / "k8s" / "overlays" / "production",
    "production-cnpg": DEPLOY / "k8s" / "overlays" / "production-cnpg",
    "telemetry": DEPLOY / "k8s" / "telemetry",
    "argocd": DEPLOY / "k8s" / "argocd",
}
# Plain manifests that no kustomization includes: the Secret's keys, and the stores that may replace Vault's.
FILES = [DEPLOY / "k8s" / "secret-template.yaml", *sorted((DEPLOY / "k8s" / "external-secrets" / "stores").glob("*.yaml"))]
CRD_SCHEMAS = DEPLOY / "schemas"
# kustomize writes an AlertmanagerConfig's `matchType: =` unquoted: YAML 1.2's
# string "=", but YAML 1.1's (PyYAML's) "value" type. Read it as the string.
yaml.SafeLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def build(target: Path) -> str:
    command = ["kubectl", "kustomize", str(target)]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout  # noqa: S603


# What the API server checks of any object's metadata that a CRD's schema leaves to it.
OBJECT_METADATA = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"}, "namespace": {"type": "string"}, "generateName": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "finalizers": {"type": "array", "items": {"type": "string"}},
    },
}


def strict(schema: Any) -> Any:
    """An upstream CRD's OpenAPI v3 schema as JSON Schema that refuses unknown fields.

    The API server prunes (or, with strict field validation, refuses) a field
    its structural schema does not list, unless the object keeps unknown
    fields (x-kubernetes-preserve-unknown-fields); `nullable` allows null.
    """
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: strict(value) for key, value in schema.items()}
    if "properties" in closed and "additionalProperties" not in closed \
            and not closed.get("x-kubernetes-preserve-unknown-fields"):
        closed["additionalProperties"] = False
    if closed.pop("nullable", False) and "type" in closed:
        closed["type"] = [closed["type"], "null"]
    return closed


def load_schema(path: Path) -> dict[str, Any]:
    """A vendored schema, ready for jsonschema: an upstream CRD's made strict, with the object metadata checked."""
    schema: dict[str, Any] = json.loads(path.read_text())
    if "x-titanium-source" not in schema:
        return schema  # hand-written, already closed
    schema = strict(schema)
    schema["properties"]["metadata"] = OBJECT_METADATA
    schema.setdefault("required", [])
    schema["required"] = sorted({*schema["required"], "apiVersion", "kind", "metadata"})
    return schema


def crd_schema(api_version: str, kind: str) -> Path | None:
    if "/" not in api_version or "." not in api_version.split("/")[0]:
        return None
    path = CRD_SCHEMAS / api_version / f"{kind.lower()}.json"
    return path if path.exists() else None


def is_builtin(api_version: str) -> bool:
    group = api_version.split("/")[0] if "/" in api_version else ""
    return "." not in group or group.endswith(".k8s.io")


def validate(obj: dict) -> str:
    """The schema the object passed ('kubernetes' or 'vendored'); raises when it fails or has none."""
    api_version, kind = obj["apiVersion"], obj["kind"]
    schema = crd_schema(api_version, kind)
    if schema is not None:
        jsonschema.validate(obj, load_schema(schema), cls=jsonschema.Draft202012Validator)
        return "vendored"
    if is_builtin(api_version):
        k8s_schemas.validate(obj, KUBERNETES_VERSION, strict=True)
        return "kubernetes"
    raise LookupError(f"no schema for {kind} ({api_version}): vendor one in deploy/schemas")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="where the built manifests go")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sources = {name: build(path) for name, path in TARGETS.items()}
    sources |= {path.stem: path.read_text() for path in FILES}
    failures, totals, kinds = [], Counter(), Counter()
    for name, text in sources.items():
        (args.out / f"{name}.yaml").write_text(text)
        for obj in (doc for doc in yaml.safe_load_all(text) if doc):
            label = f"{name}: {obj['kind']}/{obj['metadata']['name']}"
            try:
                totals[validate(obj)] += 1
                kinds[obj["kind"]] += 1
            except (jsonschema.ValidationError, k8s_schemas.ValidationError) as exc:
                failures.append(f"{label}: {exc.message} at /{'/'.join(map(str, exc.absolute_path))}")
            except (LookupError, k8s_schemas.SchemaNotFoundError) as exc:
                failures.append(f"{label}: {getattr(exc, 'message', exc)}")
        print(f"  built {name}: {sum(1 for doc in yaml.safe_load_all(text) if doc)} objects")
    print(f"validated {sum(totals.values())} objects: {totals['kubernetes']} against the Kubernetes "
          f"{KUBERNETES_VERSION} schemas (strict), {totals['vendored']} custom resources against deploy/schemas")
    print("  kinds: " + ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items())))
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
