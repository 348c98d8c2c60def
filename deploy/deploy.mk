# The offline checks of deploy/: `make deploy-check`, included by the root
# Makefile (which defines VENV, BIN and `install`). Nothing here needs a
# cluster, a Docker engine or the internet beyond PyPI and Debian's archive.
VENV ?= .venv
BIN ?= $(VENV)/bin
DEPLOY_BUILD := $(VENV)/deploy-build
CHECKOV_VENV := $(VENV)/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(shell sha1sum deploy/requirements-checkov.txt | cut -c1-12)
PROMETHEUS_RULES := deploy/observability/prometheus/rules
PROMETHEUS_TESTS := deploy/observability/prometheus/tests
ALERTMANAGER_CONFIG := deploy/observability/alertmanager/alertmanager.yml

.PHONY: deploy-check deploy-tools deploy-manifests deploy-lint deploy-rules deploy-scan kind-secret

deploy-check: deploy-manifests deploy-lint deploy-rules deploy-scan ## prove deploy/ offline: build, schemas, lint, rules, security scan
	@echo "deploy-check: passed."
	@echo "  Not proven here (deploy/README.md says why): terraform validate and plan (no provider plugins"
	@echo "  offline), docker build (no engine), the compose file against the Compose schema (no docker"
	@echo "  compose), and anything only a live cluster shows. Custom resources are checked against"
	@echo "  deploy/schemas: the upstream CRDs' schemas for Argo Rollouts, External Secrets and CloudNativePG"
	@echo "  (without their CEL rules), hand-written subsets for Istio, the Prometheus operator and Argo CD."

# checkov pins versions that clash with Titanium's own, so it lives apart.
$(CHECKOV_STAMP): deploy/requirements-checkov.txt
	rm -rf $(CHECKOV_VENV)
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --no-deps -r deploy/requirements-checkov.txt
	touch $@

# promtool and amtool come with Debian's prometheus and prometheus-alertmanager packages.
$(VENV)/.promtool:
	@deploy/tools/need_package.sh promtool prometheus "make deploy-check"
	touch $@

$(VENV)/.amtool:
	@deploy/tools/need_package.sh amtool prometheus-alertmanager "make deploy-check"
	touch $@

deploy-tools:
	@for tool in kubectl terraform; do command -v $$tool >/dev/null || { \
	  echo "$$tool is missing: deploy-check needs kubectl (with Kustomize) and terraform on PATH" >&2; exit 1; }; done

deploy-manifests: install deploy-tools ## kubectl kustomize every target; validate every object against its schema
	@echo "== kustomize build and schema validation"
	$(BIN)/python deploy/tools/validate_manifests.py --out $(DEPLOY_BUILD)
	$(BIN)/python deploy/tools/prometheus_rule.py --check
	$(BIN)/python deploy/tools/alertmanager_config.py --check

deploy-lint: install deploy-tools
	@echo "== yamllint, hadolint, terraform fmt"
	$(BIN)/yamllint --strict -c deploy/.yamllint.yaml deploy .github
	$(BIN)/hadolint deploy/docker/Dockerfile
	TF_CLI_CONFIG_FILE=/dev/null terraform fmt -check -recursive deploy/terraform

deploy-rules: $(VENV)/.promtool $(VENV)/.amtool deploy-manifests
	@echo "== promtool, amtool"
	promtool check rules $(PROMETHEUS_RULES)/*.yml
	promtool test rules $(PROMETHEUS_TESTS)/*.yml
	$(BIN)/python deploy/tools/analysis_queries.py --build $(DEPLOY_BUILD)
	amtool check-config $(ALERTMANAGER_CONFIG)
	amtool config routes test --config.file=$(ALERTMANAGER_CONFIG) --verify.receivers=pager severity=page
	amtool config routes test --config.file=$(ALERTMANAGER_CONFIG) --verify.receivers=ticket severity=ticket

deploy-scan: $(CHECKOV_STAMP) deploy-manifests
	@echo "== checkov (exceptions are written beside the objects they excuse)"
	@set -e; for scan in kubernetes:$(DEPLOY_BUILD) dockerfile:deploy/docker github_actions:.github/workflows \
	    terraform:deploy/terraform secrets:deploy secrets:.github; do \
	  echo "checkov --framework $${scan%%:*} -d $${scan#*:}"; \
	  $(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework "$${scan%%:*}" -d "$${scan#*:}"; \
	done

# A Secret for a local cluster (kind, minikube): fresh passwords and key.
kind-secret: install
	@set -e; dir="$$(mktemp -d)"; trap 'rm -rf "$$dir"' EXIT; \
	pg="$$(openssl rand -hex 24)"; rd="$$(openssl rand -hex 24)"; \
	$(BIN)/titanium keygen "$$dir/jwt.pem" >/dev/null; \
	kubectl -n titanium create secret generic titanium-secrets \
	  --from-literal=postgres-password="$$pg" --from-literal=redis-password="$$rd" \
	  --from-literal=users-database-url="postgresql://titanium:$$pg@postgres:5432/titanium_users" \
	  --from-literal=blog-database-url="postgresql://titanium:$$pg@postgres:5432/titanium_blog" \
	  --from-literal=blog-database-read-url= \
	  --from-literal=redis-url="redis://:$$rd@redis:6379/0" \
	  --from-file=jwt-private-key="$$dir/jwt.pem" --from-literal=jwt-verification-keys=
