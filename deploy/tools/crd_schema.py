"""Vendor the schema of an upstream CustomResourceDefinition into deploy/schemas, for the offline check.

Reads a CRD (YAML, one file of the upstream project at a release tag) and
writes, for each version it serves, the version's openAPIV3Schema as it is,
less its descriptions and its `status` (manifests never set them), to
deploy/schemas/<group>/<version>/<kind>.json, with where it came from.
validate_manifests.py closes it to unknown fields, as the API server's
strict field validation (kubectl's default) does.

    git -C <clone> show v1.9.1:manifests/crds/rollout-crd.yaml | python deploy/tools/crd_schema.py \\
        --source https://github.com/argoproj/argo-rollouts --ref v1.9.1 \\
        --path manifests/crds/rollout-crd.yaml --licence Apache-2.0
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
SOURCE_KEY = "x-titanium-source"


def _stripped(node: Any) -> Any:
    """The schema without its prose (`description`): what the check reads."""
    if isinstance(node, dict):
        return {key: _stripped(value) for key, value in node.items() if key != "description"}
    if isinstance(node, list):
        return [_stripped(value) for value in node]
    return node


def vendor(crd: dict[str, Any], source: dict[str, str]) -> list[Path]:
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    written = []
    for version in (v for v in crd["spec"]["versions"] if v.get("served", True)):
        schema = _stripped(version["schema"]["openAPIV3Schema"])
        schema.get("properties", {}).pop("status", None)
        document = {"title": f"{kind} ({group}/{version['name']})",
                    "description": f"The openAPIV3Schema of {source['path']} in {source['repository']} at {source['ref']} "
                                   f"({source['licence']}), less descriptions and status: written by deploy/tools/crd_schema.py.",
                    SOURCE_KEY: source, **schema}
        path = SCHEMAS / group / version["name"] / f"{kind.lower()}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n")
        written.append(path)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in ("source", "ref", "path", "licence"):
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args()
    source = {"repository": args.source, "ref": args.ref, "path": args.path, "licence": args.licence}
    for crd in (doc for doc in yaml.safe_load_all(sys.stdin) if doc and doc.get("kind") == "CustomResourceDefinition"):
        for path in vendor(crd, source):
            print(f"wrote {path.relative_to(SCHEMAS.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
