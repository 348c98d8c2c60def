# Argo CD, then Titanium's AppProject and Application, read from
# deploy/k8s/argocd so that Terraform and `kubectl apply -k` install the same
# objects (only the repository and revision come from variables here).
locals {
  argocd_namespace = kubernetes_namespace_v1.this["argocd"].metadata[0].name
  argocd_project   = yamldecode(file("${path.module}/../k8s/argocd/project.yaml"))
  argocd_app       = yamldecode(file("${path.module}/../k8s/argocd/application.yaml"))
  argocd_telemetry = yamldecode(file("${path.module}/../k8s/argocd/application-telemetry.yaml"))
}

resource "helm_release" "argo_cd" {
  name       = "argo-cd"
  repository = "https://argoproj.github.io/argo-helm"
  chart      = "argo-cd"
  version    = var.argo_cd_version
  namespace  = local.argocd_namespace
  values = [yamlencode({
    configs = { params = { "server.insecure" = false } }
  })]
}

resource "helm_release" "titanium_app" {
  name       = "titanium-app"
  repository = "https://argoproj.github.io/argo-helm"
  chart      = "argocd-apps"
  version    = var.argocd_apps_version
  namespace  = local.argocd_namespace
  values = [yamlencode({
    projects = {
      (local.argocd_project.metadata.name) = merge(local.argocd_project.spec, {
        namespace   = local.argocd_namespace
        sourceRepos = [var.git_repo_url]
      })
    }
    applications = {
      for app in [local.argocd_app, local.argocd_telemetry] : app.metadata.name => merge(app.spec, {
        namespace  = local.argocd_namespace
        finalizers = app.metadata.finalizers
        source = merge(app.spec.source, {
          repoURL        = var.git_repo_url
          targetRevision = var.git_revision
        })
      })
    }
  })]
  # The mesh and the controllers of the app's custom resources must exist before the first sync.
  depends_on = [helm_release.argo_cd, helm_release.controller, helm_release.istio_ingress, helm_release.kube_prometheus_stack]
}
