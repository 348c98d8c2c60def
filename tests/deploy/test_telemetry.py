"""Traces and logs reach their backends, and Grafana links metrics, logs and traces both ways.

No collector, Tempo, Alloy or Grafana binary runs here: their configurations
are checked against the documented structure of each (the collector's
receivers/processors/exporters/service.pipelines, Alloy's component
references, Grafana's provisioning fields), and against what the services
really write: a JSON log line made by core/logging.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.deploy.manifests import DEPLOY, REPO, build, load_compose
from titanium.core.registry import SERVICE_NAMES

OBSERVABILITY = DEPLOY / "observability"
COLLECTOR = OBSERVABILITY / "otel-collector" / "config.yaml"
ALLOY = {"compose": OBSERVABILITY / "alloy" / "docker.alloy", "kubernetes": OBSERVABILITY / "alloy" / "kubernetes.alloy"}
DATASOURCES = {"compose": OBSERVABILITY / "grafana" / "provisioning" / "datasources" / "datasources.yaml",
               "kubernetes": OBSERVABILITY / "grafana" / "kubernetes" / "datasources.yaml"}
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
LOG_LINE = f"""
from opentelemetry import context, trace
from titanium.core.logging import configure_logging, get_logger
configure_logging("blog")
span = trace.NonRecordingSpan(trace.SpanContext(0x{TRACE_ID}, 0x00f067aa0ba902b7, is_remote=False))
context.attach(trace.set_span_in_context(span))
get_logger("titanium.test").warning("request answered", status=503)
"""


@pytest.fixture(scope="module")
def log_line() -> str:
    """One line as a service writes it, inside a trace."""
    result = subprocess.run([sys.executable, "-c", LOG_LINE], check=True, capture_output=True, text=True, cwd=REPO)
    return result.stdout.strip().splitlines()[-1]


# --- the OpenTelemetry Collector -----------------------------------------------------------------


def _collector() -> dict[str, Any]:
    return yaml.safe_load(COLLECTOR.read_text())


def test_collector_pipelines_name_only_configured_components() -> None:
    """As `otelcol validate` would: every component a pipeline names is configured, and the traces pipeline exists."""
    config = _collector()
    service = config["service"]
    assert set(service.get("extensions", [])) <= set(config.get("extensions", {}))
    pipeline = service["pipelines"]["traces"]
    for kind in ("receivers", "processors", "exporters"):
        assert pipeline[kind], f"the traces pipeline has no {kind}"
        assert set(pipeline[kind]) <= set(config[kind]), f"{kind} named but not configured"
    # memory_limiter must come first to protect the rest; batch after it.
    assert pipeline["processors"][0] == "memory_limiter" and "batch" in pipeline["processors"]


def test_collector_receives_otlp_on_both_ports_from_other_hosts() -> None:
    protocols = _collector()["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert protocols["http"]["endpoint"] == "0.0.0.0:4318"


def test_collector_exports_to_the_tempo_of_each_deployment(production: list[dict[str, Any]]) -> None:
    config = _collector()
    exporter = config["exporters"][config["service"]["pipelines"]["traces"]["exporters"][0]]
    assert exporter["endpoint"] == "${env:TRACES_ENDPOINT}"
    compose = load_compose()["services"]
    assert compose["otel-collector"]["environment"]["TRACES_ENDPOINT"] == "tempo:4317"
    assert "4317" in yaml.safe_load((OBSERVABILITY / "tempo" / "tempo.yaml").read_text())[
        "distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    telemetry = build_telemetry()
    deployment, = (o for o in telemetry if o["kind"] == "Deployment" and o["metadata"]["name"] == "otel-collector")
    env = {var["name"]: var["value"] for var in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    host, port = env["TRACES_ENDPOINT"].split(":")
    assert _service_port(telemetry, host, int(port))


def build_telemetry() -> list[dict[str, Any]]:
    text = subprocess.run(["kubectl", "kustomize", str(DEPLOY / "k8s" / "telemetry")], check=True, capture_output=True,
                          text=True).stdout
    loader = type("Loader", (yaml.SafeLoader,), {})
    loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))
    return [doc for doc in yaml.load_all(text, Loader=loader) if doc]


def _service_port(objects: list[dict[str, Any]], host: str, port: int, protocol: str = "grpc") -> bool:
    """Whether `host` names a Service of `objects` that serves `protocol` on `port`."""
    name, _, namespace = host.partition(".")
    return any(o["kind"] == "Service" and o["metadata"]["name"] == name
               and o["metadata"].get("namespace") == namespace.split(".")[0] and
               any(p["port"] == port and p.get("appProtocol") == protocol for p in o["spec"]["ports"]) for o in objects)


def test_every_service_exports_to_the_collector(production: list[dict[str, Any]]) -> None:
    """The variable core/tracing.py reads points at the collector's OTLP/HTTP port, in compose and in the cluster."""
    compose = load_compose()["services"]
    for service in SERVICE_NAMES:
        assert compose[service]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318", service
    common, = (o for o in production if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "titanium-common")
    url = urlsplit(common["data"]["OTEL_EXPORTER_OTLP_ENDPOINT"])
    # core/tracing.py exports over OTLP/HTTP: the collector's HTTP port, not its gRPC one.
    assert url.scheme == "http" and _service_port(build_telemetry(), url.hostname or "", url.port or 0, "http")
    assert build("local")  # the local overlay has no collector, and exports nothing
    local_common, = (o for o in build("local") if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "titanium-common")
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in local_common["data"]


# --- Alloy ---------------------------------------------------------------------------------------

COMPONENT = re.compile(r'^([a-z_]+(?:\.[a-z_]+)+)\s+"([\w-]+)"\s*\{', re.MULTILINE)
REFERENCE = re.compile(r"\b([a-z_]+(?:\.[a-z_]+)+)\.([\w-]+)\.(receiver|targets|output)\b")


def _without_comments(text: str) -> str:
    """Alloy's // comments, where they start a line or follow a space (not inside a URL)."""
    return re.sub(r"(^|\s)//.*", r"\1", text)


def _block(text: str, header: str) -> str:
    """The body of the first block whose header starts with `header` (braces balanced)."""
    start = text.index("{", text.index(header))
    depth = 0
    for index in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return text[start + 1:index]
    raise AssertionError(f"unbalanced block {header}")


@pytest.mark.parametrize("where", ALLOY)
def test_alloy_components_reference_declared_components_and_end_in_loki(where: str) -> None:
    text = _without_comments(ALLOY[where].read_text())
    declared = set(COMPONENT.findall(text))
    references = {(kind, label) for kind, label, _ in REFERENCE.findall(text)}
    assert references - declared == set(), "references to components that are not declared"
    # Only the sources that read the lines start a chain; everything else is used by the one before it.
    assert declared - references == {c for c in declared if c[0].startswith("loki.source.")} != set()
    assert ("loki.write", "loki") in references
    assert 'url = "http://loki' in _block(text, 'loki.write "loki"') and "/loki/api/v1/push" in text


@pytest.mark.parametrize("where", ALLOY)
def test_alloy_stores_each_line_at_its_own_time_labelled_by_service_and_level(where: str, log_line: str) -> None:
    text = _without_comments(ALLOY[where].read_text())
    process = _block(text, 'loki.process "json_lines"')
    record = json.loads(log_line)
    expressions = re.search(r"stage\.json\s*\{\s*expressions\s*=\s*\{([^}]*)\}", process).group(1)
    extracted = set(re.findall(r"(\w+)\s*=", expressions))
    assert {"timestamp", "level", "service", "trace_id"} <= extracted <= set(record)
    timestamp = _block(process, "stage.timestamp")
    assert re.search(r'source\s*=\s*"timestamp"', timestamp)
    assert re.search(r'format\s*=\s*"RFC3339Nano"', timestamp)
    # Go's RFC3339Nano parses RFC 3339 with any fraction: the line's own timestamp is one, in UTC.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)", record["timestamp"])
    assert datetime.fromisoformat(record["timestamp"]).utcoffset().total_seconds() == 0
    labels = set(re.findall(r"(\w+)\s*=", _block(_block(process, "stage.labels"), "values")))
    assert labels == {"service", "level"}, "labels: service and level only (a trace id label would make a stream a trace)"
    if where == "kubernetes":
        assert process.index("stage.cri") < process.index("stage.json"), "the runtime's wrapping comes off first"


def test_alloy_daemonset_reads_the_pod_logs_with_minimal_rights(production: list[dict[str, Any]]) -> None:
    telemetry = build_telemetry()
    daemonset, = (o for o in telemetry if o["kind"] == "DaemonSet")
    spec = daemonset["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m for m in spec["containers"][0]["volumeMounts"]}
    assert mounts["/var/log/pods"].get("readOnly") is True
    assert spec["containers"][0]["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert not [o for o in telemetry if o["kind"] in ("ClusterRole", "ClusterRoleBinding")], "no cluster-wide rights"
    binding, = (o for o in production if o["kind"] == "RoleBinding" and
                any(s["name"] == spec["serviceAccountName"] and s["namespace"] == "monitoring" for s in o["subjects"]))
    role, = (o for o in production if o["kind"] == "Role" and o["metadata"]["name"] == binding["roleRef"]["name"])
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]


# --- Grafana -------------------------------------------------------------------------------------


def _datasources(where: str) -> dict[str, dict[str, Any]]:
    return {source["uid"]: source for source in yaml.safe_load(DATASOURCES[where].read_text())["datasources"]}


@pytest.mark.parametrize("where", DATASOURCES)
def test_datasources_link_metrics_logs_and_traces_both_ways(where: str, log_line: str) -> None:
    sources = _datasources(where)
    assert {sources[uid]["type"] for uid in ("prometheus", "loki", "tempo")} == {"prometheus", "loki", "tempo"}
    # exemplar -> trace: the exemplar label the services set is trace_id.
    assert sources["prometheus"]["jsonData"]["exemplarTraceIdDestinations"] == [{"name": "trace_id",
                                                                                 "datasourceUid": "tempo"}]
    # log line -> trace: the derived field finds the trace id in a real line.
    derived, = sources["loki"]["jsonData"]["derivedFields"]
    assert derived["datasourceUid"] == "tempo"
    assert re.search(derived["matcherRegex"], log_line).group(1) == json.loads(log_line)["trace_id"] == TRACE_ID
    # trace -> logs (the span's service is the logs' service label, the trace id is in the line) and -> metrics.
    tempo = sources["tempo"]["jsonData"]
    assert tempo["tracesToLogsV2"]["datasourceUid"] == "loki" and tempo["tracesToLogsV2"]["filterByTraceID"]
    assert {"key": "service.name", "value": "service"} in tempo["tracesToLogsV2"]["tags"]
    assert tempo["serviceMap"]["datasourceUid"] == tempo["tracesToMetrics"]["datasourceUid"] == "prometheus"
    # Grafana expands $VAR in provisioning files: Grafana's own variables must be written $$.
    text = DATASOURCES[where].read_text()
    assert not re.search(r"(?<!\$)\$(?!\$)\{?__", text)


def test_compose_and_kubernetes_datasources_differ_only_in_addresses() -> None:
    def without_urls(where: str) -> dict[str, dict[str, Any]]:
        return {uid: {k: v for k, v in source.items() if k != "url"} for uid, source in _datasources(where).items()}

    assert without_urls("compose") == without_urls("kubernetes")
    assert urlsplit(_datasources("compose")["tempo"]["url"]).port == urlsplit(_datasources("kubernetes")["tempo"]["url"]).port


def test_grafana_datasources_reach_kubernetes(production: list[dict[str, Any]]) -> None:
    config_map, = (o for o in production if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "titanium-grafana-datasources")
    assert config_map["metadata"]["labels"]["grafana_datasource"] == "1"
    assert yaml.safe_load(config_map["data"]["datasources.yaml"]) == yaml.safe_load(DATASOURCES["kubernetes"].read_text())


# --- Alertmanager --------------------------------------------------------------------------------


def test_alertmanager_config_in_kubernetes_routes_as_compose() -> None:
    """The AlertmanagerConfig has compose's receivers, routes and inhibitions (rendered; amtool checks the source)."""
    telemetry = build_telemetry()
    config, = (o for o in telemetry if o["kind"] == "AlertmanagerConfig")
    source = yaml.safe_load((OBSERVABILITY / "alertmanager" / "alertmanager.yml").read_text())
    assert [r["name"] for r in config["spec"]["receivers"]] == [r["name"] for r in source["receivers"]] == ["pager", "ticket"]
    routes = {route["receiver"]: route["matchers"] for route in config["spec"]["route"]["routes"]}
    assert routes["pager"] == [{"name": "severity", "value": "page|critical", "matchType": "=~"}]
    assert len(config["spec"]["inhibitRules"]) == len(source["inhibit_rules"])
    assert all(rule["equal"] for rule in config["spec"]["inhibitRules"])
