"""`make observe`: a real Prometheus beside the local platform (`make run`), with the project's rules loaded.

It scrapes every service of the platform on loopback every 5 s (the same job
and `service` labels as in compose and Kubernetes, so every rule and panel
expression works unchanged) and keeps its data under data/prometheus. Query
it at http://127.0.0.1:9090 (alerts at /alerts, rules at /rules).

Prometheus itself is Debian's `prometheus` package (the deploy checks install
it with promtool); this only writes its configuration and starts it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src"))

from titanium.core.registry import DEFAULT_PORTS, parse_replicas, replica_ports  # noqa: E402 - the ports `titanium up` uses

RULES = REPO / "deploy" / "observability" / "prometheus" / "rules"


def configuration(base_port: int, host: str, replicas: dict[str, int] | None = None) -> dict:
    """Scrape every process: with `titanium up --replicas`, each of a service's processes is a target of its own."""
    # Every process here is one revision of its service, "local": the canary rules, which Kubernetes
    # evaluates per Rollout revision (deploy/k8s/monitoring/service-monitor.yaml), have their series too.
    targets = [{"targets": [f"{host}:{replica_ports(base_port, replica)[name]}" for replica in range(count)],
                "labels": {"service": name, "rollouts_pod_template_hash": "local"}}
               for name, count in ((name, (replicas or {}).get(name, 1)) for name in DEFAULT_PORTS)]
    return {
        "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
        "rule_files": [str(path) for path in sorted(RULES.glob("*.yml"))],
        "scrape_configs": [{"job_name": "titanium", "metrics_path": "/metrics", "static_configs": targets}],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-port", type=int, default=8000, help="the gateway's port, as given to `titanium up`")
    parser.add_argument("--host", default="127.0.0.1", help="where the platform listens")
    parser.add_argument("--replicas", type=parse_replicas, default=os.environ.get("TITANIUM_REPLICAS", ""),
                        help="as given to `titanium up`, e.g. blog=2,gateway=2")
    parser.add_argument("--listen", default="127.0.0.1:9090", help="Prometheus's own address")
    parser.add_argument("--data-dir", type=Path, default=REPO / "data" / "prometheus")
    args = parser.parse_args()
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        print("prometheus is missing: sudo apt-get install prometheus (Debian, Ubuntu)", file=sys.stderr)
        return 1
    args.data_dir.mkdir(parents=True, exist_ok=True)
    config = args.data_dir / "prometheus.yml"
    config.write_text(yaml.safe_dump(configuration(args.base_port, args.host, args.replicas), sort_keys=False))
    print(f"Prometheus on http://{args.listen} scraping the platform from port {args.base_port}; Ctrl-C stops it",
          flush=True)
    # Becomes Prometheus, so that Ctrl-C reaches it.
    os.execv(prometheus, [prometheus, f"--config.file={config}", f"--storage.tsdb.path={args.data_dir / 'tsdb'}",  # noqa: S606
                          f"--web.listen-address={args.listen}", "--storage.tsdb.retention.time=2d",
                          "--enable-feature=exemplar-storage"])


if __name__ == "__main__":
    raise SystemExit(main())
