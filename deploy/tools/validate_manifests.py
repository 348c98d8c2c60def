"""Build every Kustomize target and validate each object it makes, offline.

Built-in kinds are checked against the Kubernetes JSON schemas that the
kubernetes-validate package ships (strict: unknown fields fail), for the
cluster version we target; custom resources against the schemas vendored in
deploy/schemas. A kind with neither fails the check. The built manifests are
written to --out, where checkov and the tests read them.

    python deploy/tools/validate_manifests.py --out .venv/deploy-build
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import jsonschema
import yaml
from kubernetes_validate import utils as k8s_schemas

DEPLOY = Path(__file__).resolve().parent.parent
KUBERNETES_VERSION = "1.32.0"
# What `kubectl kustomize` builds, by name: the overlays, the telemetry pipeline and Argo CD's objects.
TARGETS = {
    "local": DEPLOY / "k8s" / "overlays" / "local",
    "production": DEPLOY / "k8s" / "overlays" / "production",
    "telemetry": DEPLOY / "k8s" / "telemetry",
    "argocd": DEPLOY / "k8s" / "argocd",
}
# Plain manifests that no kustomization includes.
FILES = [DEPLOY / "k8s" / "secret-template.yaml"]
CRD_SCHEMAS = DEPLOY / "schemas"
# kustomize writes an AlertmanagerConfig's `matchType: =` unquoted: YAML 1.2's
# string "=", but YAML 1.1's (PyYAML's) "value" type. Read it as the string.
yaml.SafeLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def build(target: Path) -> str:
    command = ["kubectl", "kustomize", str(target)]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout  # noqa: S603


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
        jsonschema.validate(obj, json.loads(schema.read_text()), cls=jsonschema.Draft202012Validator)
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
