variable "kubeconfig_path" {
  description = "The kubeconfig of the cluster to set up."
  type        = string
  default     = "~/.kube/config"
}

variable "kubeconfig_context" {
  description = "The kubeconfig context to use; null for the current one."
  type        = string
  default     = null
}

variable "app_namespace" {
  description = "The namespace Titanium runs in (the Kustomize base uses titanium)."
  type        = string
  default     = "titanium"
}

variable "git_repo_url" {
  description = "The Git repository Argo CD deploys Titanium from."
  type        = string
  default     = "https://github.com/titanium-platform/titanium.git"
}

variable "git_revision" {
  description = "The branch, tag or commit Argo CD follows."
  type        = string
  default     = "main"
}

variable "istio_version" {
  description = "The Istio Helm charts' version (base, cni, istiod, gateway)."
  type        = string
  default     = "1.27.1"
}

variable "kube_prometheus_stack_version" {
  description = "The kube-prometheus-stack chart's version (Prometheus operator, Prometheus, Alertmanager, Grafana)."
  type        = string
  default     = "77.6.2"
}

variable "loki_version" {
  description = "The Loki chart's version (single binary, logs)."
  type        = string
  default     = "6.40.0"
}

variable "metrics_server_version" {
  description = "The metrics-server chart's version (the HPAs' CPU and memory figures); null when the cluster has one."
  type        = string
  default     = "3.13.0"
}

variable "argo_cd_version" {
  description = "The argo-cd chart's version."
  type        = string
  default     = "8.3.7"
}

variable "argocd_apps_version" {
  description = "The argocd-apps chart's version (installs the Titanium AppProject and Application)."
  type        = string
  default     = "2.0.2"
}

variable "argo_rollouts_version" {
  description = "The argo-rollouts chart's version (the canary releases' controller; chart 2.41.1 is Argo Rollouts v1.9.1)."
  type        = string
  default     = "2.41.1"
}

variable "external_secrets_version" {
  description = "The external-secrets chart's version (the External Secrets Operator, which writes titanium-secrets)."
  type        = string
  default     = "2.9.0"
}

variable "cloudnative_pg_version" {
  description = "The cloudnative-pg chart's version (0.29.0 is CloudNativePG 1.30.0), for overlays/production-cnpg; null to leave it out."
  type        = string
  default     = null
}

variable "tls_certificate_pem" {
  description = "The public host's certificate chain (PEM) for the Istio ingress gateway; null to manage it elsewhere (cert-manager)."
  type        = string
  default     = null
}

variable "tls_private_key_pem" {
  description = "The private key (PEM) of tls_certificate_pem."
  type        = string
  default     = null
  sensitive   = true
}
