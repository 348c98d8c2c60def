# Every namespace the platform uses, with its Pod Security level. Titanium's
# own is restricted; its sidecars need no privilege because Istio's CNI
# plugin, not an init container, sets up their traffic redirection.
locals {
  namespaces = merge(
    {
      (var.app_namespace) = { pod_security = "restricted", istio_injection = true }
      "istio-system"      = { pod_security = "privileged", istio_injection = false } # the CNI node agent
      "monitoring"        = { pod_security = "privileged", istio_injection = false } # node-exporter reads the host
      "argocd"            = { pod_security = "baseline", istio_injection = false }
      # The controllers of controllers.tf, outside the mesh.
      "argo-rollouts"    = { pod_security = "baseline", istio_injection = false }
      "external-secrets" = { pod_security = "baseline", istio_injection = false }
    },
    var.cloudnative_pg_version == null ? {} : { "cnpg-system" = { pod_security = "baseline", istio_injection = false } },
  )
}

resource "kubernetes_namespace_v1" "this" {
  for_each = local.namespaces

  metadata {
    name = each.key
    labels = merge(
      {
        "pod-security.kubernetes.io/enforce" = each.value.pod_security
        "pod-security.kubernetes.io/warn"    = each.value.pod_security
      },
      each.value.istio_injection ? { "istio-injection" = "enabled" } : {},
    )
  }

  lifecycle {
    # Argo CD applies the app's namespace from the Kustomize base too (same
    # labels, plus its own tracking); Terraform only creates it.
    ignore_changes = [metadata[0].labels, metadata[0].annotations]
  }
}
