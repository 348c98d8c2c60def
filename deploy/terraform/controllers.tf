# The controllers of the custom resources Titanium's manifests use:
# Argo Rollouts (the gateway's and the blog's canary releases,
# deploy/k8s/rollouts), the External Secrets Operator (the Secret
# titanium-secrets, written from the secret store: deploy/k8s/external-secrets)
# and, for the overlay with a read replica, the CloudNativePG operator
# (deploy/k8s/cloudnative-pg). Terraform holds no secret of the app: the
# store does (deploy/README.md, "Secrets from a store").
locals {
  controllers = merge(
    {
      "argo-rollouts" = {
        repository = "https://argoproj.github.io/argo-helm", chart = "argo-rollouts", version = var.argo_rollouts_version
        # The kubectl plugin's dashboard is not installed: `kubectl argo rollouts` reads the API.
        values = { dashboard = { enabled = false } }
      }
      "external-secrets" = {
        repository = "https://charts.external-secrets.io", chart = "external-secrets", version = var.external_secrets_version
        values     = { installCRDs = true }
      }
    },
    var.cloudnative_pg_version == null ? {} : {
      "cnpg-system" = {
        repository = "https://cloudnative-pg.github.io/charts", chart = "cloudnative-pg", version = var.cloudnative_pg_version
        values     = { crds = { create = true } }
      }
    },
  )
}

resource "helm_release" "controller" {
  for_each = local.controllers

  name       = each.value.chart
  repository = each.value.repository
  chart      = each.value.chart
  version    = each.value.version
  namespace  = kubernetes_namespace_v1.this[each.key].metadata[0].name
  values     = [yamlencode(each.value.values)]
}
