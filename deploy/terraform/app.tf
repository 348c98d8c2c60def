# The one Secret Titanium reads (its keys: deploy/k8s/secret-template.yaml).
# Values come from variables, or are generated once and kept in the state:
# keep the state in an encrypted backend.
resource "random_password" "postgres" {
  length  = 32
  special = false
}

resource "random_password" "redis" {
  length  = 32
  special = false
}

resource "tls_private_key" "jwt" {
  algorithm = "ED25519"
}

locals {
  postgres_password = coalesce(var.postgres_password, random_password.postgres.result)
  redis_password    = coalesce(var.redis_password, random_password.redis.result)
  database_url      = "postgresql://titanium:${urlencode(local.postgres_password)}@${var.postgres_host}:5432"
}

resource "kubernetes_secret_v1" "titanium" {
  metadata {
    name      = "titanium-secrets"
    namespace = kubernetes_namespace_v1.this[var.app_namespace].metadata[0].name
  }
  data = {
    "postgres-password"  = local.postgres_password
    "redis-password"     = local.redis_password
    "users-database-url" = "${local.database_url}/titanium_users"
    "blog-database-url"  = "${local.database_url}/titanium_blog"
    "redis-url"          = "redis://:${urlencode(local.redis_password)}@redis:6379/0"
    "jwt-private-key"    = coalesce(var.jwt_private_key_pem, tls_private_key.jwt.private_key_pem_pkcs8)
  }
}
