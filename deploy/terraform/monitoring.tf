# Prometheus (operator), Alertmanager and Grafana, plus Loki for logs. The
# Prometheus pods get an Istio sidecar that only writes the workload
# certificate to /etc/prom-certs (no traffic passes through it): with it
# Prometheus scrapes the STRICT-mTLS services, as Istio documents.
locals {
  monitoring_namespace = kubernetes_namespace_v1.this["monitoring"].metadata[0].name
}

resource "helm_release" "kube_prometheus_stack" {
  name       = "prometheus-stack"
  repository = "https://prometheus-community.github.io/helm-charts"
  chart      = "kube-prometheus-stack"
  version    = var.kube_prometheus_stack_version
  namespace  = local.monitoring_namespace
  values = [yamlencode({
    # Names deploy/k8s relies on: the ServiceAccount prometheus-stack-prometheus.
    fullnameOverride = "prometheus-stack"
    prometheus = {
      prometheusSpec = {
        serviceMonitorSelectorNilUsesHelmValues = false
        ruleSelectorNilUsesHelmValues           = false
        podMetadata = {
          labels = { "sidecar.istio.io/inject" = "true" }
          annotations = {
            "traffic.sidecar.istio.io/includeInboundPorts"     = ""
            "traffic.sidecar.istio.io/includeOutboundIPRanges" = ""
            "proxy.istio.io/config"                            = jsonencode({ proxyMetadata = { OUTPUT_CERTS = "/etc/istio-output-certs" } })
            "sidecar.istio.io/userVolumeMount"                 = jsonencode([{ name = "istio-certs", mountPath = "/etc/istio-output-certs" }])
          }
        }
        volumes      = [{ name = "istio-certs", emptyDir = { medium = "Memory" } }]
        volumeMounts = [{ name = "istio-certs", mountPath = "/etc/prom-certs/" }]
        # Exemplars (trace ids on the latency histograms) are kept, and Tempo's
        # metrics generator writes the service graph in (deploy/k8s/telemetry).
        enableFeatures            = ["exemplar-storage"]
        enableRemoteWriteReceiver = true
      }
    }
    alertmanager = {
      alertmanagerSpec = {
        # Its whole routing is deploy/k8s/telemetry's AlertmanagerConfig (rendered from compose's
        # alertmanager.yml); the receivers' tokens are in the Secret alertmanager-receivers.
        alertmanagerConfiguration = { name = "titanium" }
      }
    }
    grafana = {
      sidecar = {
        # deploy/observability's dashboard and data sources ConfigMaps live in the app's namespace.
        dashboards = { enabled = true, label = "grafana_dashboard", searchNamespace = "ALL" }
        # Ours (Prometheus with exemplars, Loki, Tempo, linked both ways) replace the chart's Prometheus.
        datasources = { enabled = true, label = "grafana_datasource", searchNamespace = "ALL", defaultDatasourceEnabled = false }
      }
    }
  })]
  depends_on = [helm_release.istiod]
}

resource "helm_release" "loki" {
  name       = "loki"
  repository = "https://grafana.github.io/helm-charts"
  chart      = "loki"
  version    = var.loki_version
  namespace  = local.monitoring_namespace
  values = [yamlencode({
    deploymentMode = "SingleBinary"
    loki = {
      auth_enabled = false
      commonConfig = { replication_factor = 1 }
      storage      = { type = "filesystem" }
      schemaConfig = {
        configs = [{
          from  = "2025-01-01", store = "tsdb", object_store = "filesystem", schema = "v13"
          index = { prefix = "index_", period = "24h" }
        }]
      }
    }
    singleBinary = { replicas = 1 }
    read         = { replicas = 0 }
    write        = { replicas = 0 }
    backend      = { replicas = 0 }
  })]
}

# The HorizontalPodAutoscalers read CPU and memory from metrics-server.
resource "helm_release" "metrics_server" {
  count = var.metrics_server_version == null ? 0 : 1

  name       = "metrics-server"
  repository = "https://kubernetes-sigs.github.io/metrics-server/"
  chart      = "metrics-server"
  version    = var.metrics_server_version
  namespace  = "kube-system"
}
