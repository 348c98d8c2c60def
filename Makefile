# Titanium: `make run` starts the platform, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: install run run-prod migrate test lint bench bench-prod observe clean messages

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,deploy]'
	@# tests/browser drive Debian's Chromium (playwright never downloads a browser here).
	@deploy/tools/need_package.sh /usr/bin/chromium chromium tests/browser
	@# ...with a Korean font, or the Korean pages' screenshots show boxes for every letter.
	@deploy/tools/need_package.sh /usr/share/fonts/truetype/nanum/NanumGothic.ttf fonts-nanum tests/browser
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP) ## create .venv and install Titanium with its development tools

# The blog's words (src/titanium/services/blog/locale): extracted from the code into a .pot per
# domain, merged into each language's .po (translate what is new there), compiled to .mo.
BLOG := src/titanium/services/blog
PYBABEL := $(abspath $(BIN))/pybabel
EXTRACT := $(PYBABEL) extract --sort-by-file --width 120 --project Titanium --copyright-holder "the Titanium authors"
messages: install ## the blog's words: extract them, merge them into each language's catalog, compile
	cd $(BLOG) && $(EXTRACT) --mapping-file locale/blog.cfg --output-file locale/blog.pot .
	cd $(BLOG) && $(EXTRACT) --mapping-file locale/blog_script.cfg --keywords t --keywords tn:1,2 \
		--output-file locale/blog_script.pot .
	for domain in blog blog_script; do \
		$(PYBABEL) update --input-file $(BLOG)/locale/$$domain.pot --output-dir $(BLOG)/locale --domain $$domain \
			--no-fuzzy-matching --ignore-obsolete --width 120 || exit 1; \
	done
	$(PYBABEL) compile --directory $(BLOG)/locale --domain "blog blog_script" --statistics

PORT ?= 8000
run: install ## start every service on SQLite and an in-process cache (Ctrl-C stops); PORT=9000 moves the gateway
	$(BIN)/titanium up --base-port $(PORT)

run-prod: install ## the same on PostgreSQL and Redis (TITANIUM_POSTGRES_URL, TITANIUM_REDIS_URL)
	$(BIN)/titanium up --base-port $(PORT) --postgres "$${TITANIUM_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432}" \
		--redis "$${TITANIUM_REDIS_URL:-redis://127.0.0.1:6379/0}"

migrate: install ## apply every database's migrations
	$(BIN)/titanium migrate

# The tests run in TEST_WORKERS processes, each taking whole modules
# (docs/adr/0016-test-suite.md); TEST_WORKERS=0 runs them in this one.
TEST_WORKERS ?= 4
test: install lint deploy-check ## every test: lint, deploy checks, unit, integration (real PostgreSQL and Redis), platform
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

lint: install ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/mypy src

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache

ROUNDS ?= 1
# POSTS=100000 loads that many more posts by SQL first and adds the reads at size (deep pages, random posts, search).
POSTS ?= 0
bench: install ## load the platform with k6 (loadtest/): P50/P95/P99, throughput, error rate (ROUNDS=2: medians of two)
	$(BIN)/python loadtest/run.py --rounds $(ROUNDS) --posts $(POSTS)

observe: install ## a real Prometheus (Debian's) scraping the local platform, with the project's rules: http://127.0.0.1:9090
	@deploy/tools/need_package.sh prometheus prometheus "make observe"
	$(BIN)/python deploy/tools/observe.py

bench-prod: install ## the same on the local PostgreSQL and Redis (READ_REPLICAS=N: on a primary of its own with N read replicas)
	$(BIN)/python loadtest/run.py --rounds $(ROUNDS) --posts $(POSTS) --postgres "$${TITANIUM_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432}" \
		--redis "$${TITANIUM_REDIS_URL:-redis://127.0.0.1:6379/0}" $(if $(READ_REPLICAS),--read-replicas $(READ_REPLICAS))

include deploy/deploy.mk
