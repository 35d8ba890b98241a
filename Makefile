# The two commands a newcomer needs are `make run` and `make test`; both install what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := contracts runtime devtools services/registration services/materials services/media services/notifications services/dashboard
STAMP := $(VENV)/.installed-$(shell cat requirements.lock requirements-bootstrap.txt $(addsuffix /pyproject.toml,$(PACKAGES)) | sha1sum | cut -c1-12)
# The pages' CSS, fonts and htmx (package.json, exact versions, no lock file) built into the runtime's static folder
VENDOR := runtime/src/komerbij/runtime/web/static/vendor
FRONTEND := $(VENDOR)/.installed-$(shell cat package.json | sha1sum | cut -c1-12)

.PHONY: run test test-fast test-random lint bench lock schemas k8s clean install screenshots

run: $(STAMP) $(FRONTEND) ## start the front door, Keycloak, Kafka, PostgreSQL, the SMTP catcher, Prometheus, the services
	$(BIN)/komerbij run

test: $(STAMP) $(FRONTEND) ## the whole suite against real Kafka, PostgreSQL, nginx, Keycloak, Chromium (own ports), two workers
	@$(BIN)/python -m komerbij.devtools.prometheus install || echo "promtool unavailable: the alert-rule tests will say so"
	@$(BIN)/python -m komerbij.devtools.k8s install >/dev/null || echo "kustomize/kubeconform unavailable: tests/deploy will say so"
	@$(BIN)/python -m komerbij.devtools.debian nginx chromium || echo "nginx or chromium unavailable: the page tests will say so"
	$(BIN)/ruff check .
	@$(BIN)/python -c "from komerbij.devtools.kafka import ensure_jars; ensure_jars()"  # once, before two workers
	$(BIN)/pytest -n 2 --dist loadscope

test-fast: $(STAMP) ## the tests that need no Kafka or PostgreSQL (marked `fast` by tests/conftest.py): seconds
	$(BIN)/pytest -m fast -q

test-random: $(STAMP) $(FRONTEND) ## the whole suite in a random order (pytest-randomly prints the seed; SEED=n repeats one)
	@$(BIN)/python -m komerbij.devtools.prometheus install || echo "promtool unavailable: the alert-rule tests will say so"
	@$(BIN)/python -m komerbij.devtools.k8s install >/dev/null || echo "kustomize/kubeconform unavailable: tests/deploy will say so"
	@$(BIN)/python -m komerbij.devtools.debian nginx chromium || echo "nginx or chromium unavailable: the page tests will say so"
	@$(BIN)/python -c "from komerbij.devtools.kafka import ensure_jars; ensure_jars()"
	$(BIN)/pytest -p randomly -n 2 --dist loadscope $(if $(SEED),--randomly-seed=$(SEED))

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP) ## benchmarks (not part of make test); see BENCHMARKS.md; ARGS= for options, e.g. ARGS=--quick
	$(BIN)/python -m bench $(ARGS)

.PHONY: faults
faults: $(STAMP) ## the whole fault matrix against the running system, its table (docs/RELIABILITY.md); ARGS= for pytest
	$(BIN)/python -m tests.faults $(ARGS)

schemas: $(STAMP) ## rewrite contracts/schemas after an additive event change
	$(BIN)/python -m komerbij.contracts.schemas contracts/schemas

k8s: $(STAMP) ## regenerate deploy/k8s from the code and validate both overlays offline (docs/DEPLOY.md)
	$(BIN)/python -m komerbij.devtools.k8s generate
	$(BIN)/python -m komerbij.devtools.k8s validate

lock: ## re-pin requirements.lock (hashes, no URLs) after editing requirements.in
	$(BIN)/uv pip compile --generate-hashes --no-header --python-version 3.11 requirements.in -o requirements.lock

screenshots: $(STAMP) $(FRONTEND) ## docs/screenshots/<page>-{phone,desktop}.png from the page tests
	@$(BIN)/python -m komerbij.devtools.debian nginx chromium
	KOMERBIJ_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/pytest tests/pages -q -k "axe or screenshot"

install: $(STAMP) $(FRONTEND)

$(FRONTEND): package.json | $(STAMP)
	@command -v npm >/dev/null || { echo "npm is missing (it fetches the pages' CSS and fonts): apt-get install npm"; exit 1; }
	npm install --no-package-lock --no-audit --no-fund --loglevel=error
	$(BIN)/python -m komerbij.devtools.frontend build
	@touch $@

$(STAMP): requirements.lock requirements-bootstrap.txt $(addsuffix /pyproject.toml,$(PACKAGES))
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-bootstrap.txt
	$(BIN)/uv pip install --quiet --python $(BIN)/python --require-hashes -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps $(addprefix -e ,$(PACKAGES))
	@rm -f $(VENV)/.installed-*
	@touch $@

clean:
	rm -rf $(VENV) .run .pytest_cache .ruff_cache node_modules $(VENDOR)
