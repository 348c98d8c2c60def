output "namespaces" {
  description = "The namespaces created, by name, with their Pod Security level."
  value       = { for name, ns in local.namespaces : name => ns.pod_security }
}

output "argocd_application" {
  description = "The Argo CD Application that syncs Titanium, and what it follows."
  value = {
    name     = local.argocd_app.metadata.name
    repo_url = var.git_repo_url
    revision = var.git_revision
    path     = local.argocd_app.spec.source.path
  }
}

output "ingress_gateway" {
  description = "The Istio ingress gateway release; its Service's external address is the platform's."
  value       = "${helm_release.istio_ingress.name}.${local.istio_namespace}"
}
