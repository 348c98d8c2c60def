# Istio: the CRDs (base), the CNI node agent (so that meshed pods need no
# NET_ADMIN), the control plane, and the ingress gateway whose pods carry
# istio=ingressgateway and run as the istio-ingressgateway ServiceAccount
# (deploy/k8s/istio relies on both).
locals {
  istio_repository = "https://istio-release.storage.googleapis.com/charts"
  istio_namespace  = kubernetes_namespace_v1.this["istio-system"].metadata[0].name
}

resource "helm_release" "istio_base" {
  name       = "istio-base"
  repository = local.istio_repository
  chart      = "base"
  version    = var.istio_version
  namespace  = local.istio_namespace
}

resource "helm_release" "istio_cni" {
  name       = "istio-cni"
  repository = local.istio_repository
  chart      = "cni"
  version    = var.istio_version
  namespace  = local.istio_namespace
  depends_on = [helm_release.istio_base]
}

resource "helm_release" "istiod" {
  name       = "istiod"
  repository = local.istio_repository
  chart      = "istiod"
  version    = var.istio_version
  namespace  = local.istio_namespace
  values = [yamlencode({
    pilot = {
      cni = { enabled = true }
      # The sidecar starts before the app's init containers (Kubernetes
      # native sidecars), so the migrations in them can reach PostgreSQL.
      env = { ENABLE_NATIVE_SIDECARS = "true" }
    }
    meshConfig = {
      accessLogFile = "/dev/stdout"
      # Each service's own /metrics is scraped through mTLS (ServiceMonitor).
      enablePrometheusMerge = false
    }
  })]
  depends_on = [helm_release.istio_cni]
}

resource "helm_release" "istio_ingress" {
  name       = "istio-ingressgateway"
  repository = local.istio_repository
  chart      = "gateway"
  version    = var.istio_version
  namespace  = local.istio_namespace
  depends_on = [helm_release.istiod]
}

resource "kubernetes_secret_v1" "ingress_tls" {
  count = var.tls_certificate_pem == null ? 0 : 1

  metadata {
    name      = "titanium-tls"
    namespace = local.istio_namespace
  }
  type = "kubernetes.io/tls"
  data = {
    "tls.crt" = var.tls_certificate_pem
    "tls.key" = var.tls_private_key_pem
  }
}
