# The one task runner: CI jobs call these same targets. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2
PYTEST_ARGS ?=

INSTALL_STAMP := $(VENV)/.installed

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(INSTALL_STAMP): pyproject.toml requirements/constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e '.[dev]'
	@touch $@

install: $(INSTALL_STAMP) ## Install the project and its dev tools into .venv (pinned by requirements/constraints.txt)

lock: ## Re-pin requirements/constraints.txt from the current .venv
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > requirements/constraints.txt

train: install ## Run the DVC pipeline (load → preprocess → train → evaluate) and show the metrics
	dvc repro
	@echo; dvc metrics show --md
	@echo "model bundle: model/model.skops + model/model_card.json; plots: dvc plots show"

gate: install ## Quality gate: fail if the model is below params.gate (BASELINE_REF=main compares with a branch)
	python -m mlops_template.review.gate $(if $(BASELINE_REF),--baseline-ref $(BASELINE_REF))

lint: install ## black --check, flake8, mypy (strict), shellcheck on every shell script
	black --check --quiet src api tests bench
	flake8 src api tests bench
	mypy
	@command -v shellcheck >/dev/null || { echo "lint: shellcheck is missing (apt-get install shellcheck, or ci/apt.sh shellcheck)" >&2; exit 1; }
	shellcheck -x $$(ci/shell-scripts.sh)

secrets: install ## Secret scan (detect-secrets) of every file git tracks or would track, against .secrets.baseline
	git ls-files -z --cached --others --exclude-standard | xargs -0 detect-secrets-hook --baseline .secrets.baseline

audit: install ## Known vulnerabilities in the pinned dependencies (pip-audit; needs the internet)
	pip-audit --strict --no-deps --disable-pip --progress-spinner off -r requirements/constraints.txt

format: install ## Reformat the code with black
	black src api tests bench

test: install ## Style checks and the whole test suite
	$(MAKE) lint
	$(MAKE) pytest

MARKERS ?=

pytest: install k8s-tools ## The test suite alone (MARKERS="not slow" selects, PYTEST_ARGS adds pytest flags)
	pytest $(if $(MARKERS),-m "$(MARKERS)") $(PYTEST_ARGS)

demo: install ## Install, train on the bundled data set, serve on http://$(HOST):$(PORT)
	$(MAKE) train
	$(MAKE) serve

serve: install ## Serve model/ with the API (HOST, PORT, WORKERS from the environment)
	@test -f model/model_card.json || { echo "no model yet: run 'make train' first" >&2; exit 1; }
	HOST=$(HOST) PORT=$(PORT) WORKERS=$(WORKERS) python -m api

bench: install ## Benchmarks (bench/): pipeline and serving speed
	python bench/pipeline.py
	python bench/serve.py

clean: ## Remove caches and build outputs (keeps .venv and data)
	rm -rf .pytest_cache .mypy_cache coverage.xml junit.xml report build

.PHONY: help install lock train gate lint secrets audit format test pytest demo serve bench clean

# --- Continuous training (drift report, retrain job; docs/continuous-training.md) ---
DATA ?=
THRESHOLD ?=
FORMAT ?= text
OUT ?=

REFERENCE ?=
CAPTURE ?=
DAYS ?=

drift-report: install ## Offline drift of a CSV/Parquet batch (DATA=…) or of captured traffic (CAPTURE=folder or s3://…) vs the model's training reference ([THRESHOLD=PSI] [REFERENCE=data/processed/train.parquet: KS, Wasserstein, classifier AUC] [AUC_THRESHOLD=0.7] [FORMAT=md OUT=file])
	@test -n "$(DATA)$(CAPTURE)" || { echo "usage: make drift-report DATA=path/to/batch.csv | CAPTURE=url [THRESHOLD=0.2] [REFERENCE=data/processed/train.parquet] [AUC_THRESHOLD=0.7] [FORMAT=text|md] [OUT=file]" >&2; exit 2; }
	python -m mlops_template.ct.drift_report $(if $(DATA),"$(DATA)") $(if $(CAPTURE),--capture "$(CAPTURE)" $(if $(DAYS),--days $(DAYS))) $(if $(THRESHOLD),--threshold $(THRESHOLD)) $(if $(REFERENCE),--reference "$(REFERENCE)") $(if $(AUC_THRESHOLD),--auc-threshold $(AUC_THRESHOLD)) --format $(FORMAT)$(if $(OUT), > "$(OUT)")

retrain: install ## The CI retrain job locally: update data, repro, gate, compare with prod (no push/MR unless RETRAIN_PUSH=1)
	python -m mlops_template.ct.retrain

CAPTURE_URL ?= capture

feedback-data: install ## Join the API's captured rows with their /feedback labels → data/feedback/labelled.parquet (DVC-tracked; CAPTURE_URL=folder or s3://…)
	python -m mlops_template.ct.feedback_data --capture "$(CAPTURE_URL)"
	dvc add data/feedback/labelled.parquet

.PHONY: drift-report retrain feedback-data

# --- Hyperparameter search (params tune.*; docs/tuning.md) ---
TRIALS ?=
APPLY ?=

tune: install ## Search the model's hyperparameters on train/validation → reports/tune.json + tune.md (TRIALS=n; APPLY=1 writes the winner into params.yaml)
	dvc repro preprocess
	python -m mlops_template.tuning.search $(if $(TRIALS),--trials $(TRIALS)) $(if $(APPLY),--apply)

tune-apply: install ## Write the best params of reports/tune.json into params.yaml (then `make train`)
	python -m mlops_template.tuning.apply

.PHONY: tune tune-apply

# --- CI/report (the merge-request report; .gitlab-ci.yml, docs/ci.md) ---
TARGET_REF ?=

report: install ## MR report (metrics/params diff, plots as PNG, gate) → report/report.md (TARGET_REF=origin/main to compare)
	python -m mlops_template.review.report $(if $(TARGET_REF),--target-ref $(TARGET_REF)) --out report/report.md

.PHONY: report

# --- Monitoring and container (docker/, monitoring/; docs/monitoring.md) ---
COMPOSE ?= docker compose

stack: ## The API, Prometheus, Alertmanager and Grafana with docker compose (needs `make train` first)
	@test -f model/model_card.json || { echo "no model yet: run 'make train' first" >&2; exit 1; }
	$(COMPOSE) -f docker/docker-compose.yml up --build

image: install ## Build the API image without Docker: podman + local Debian base (docker/build-local.sh)
	PYTHON=$(abspath $(BIN))/python docker/build-local.sh

bench-container: install ## Image size, start-to-ready, RSS per worker (podman; run `make image` first)
	python bench/container.py

.PHONY: stack image bench-container

# --- Kubernetes (deploy/; docs/kubernetes.md) ---
K8S_TOOLS ?= build/tools/checkov
K8S_TOOLS_STAMP := $(K8S_TOOLS)/.installed
OVERLAYS := $(wildcard deploy/kubernetes/overlays/*)

monitor-rules: install ## Write monitoring/prometheus/rules/quality.yml (live quality, ModelQualityDrop) from params.yaml's monitor section
	python -m mlops_template.ct.monitor_rules

k8s-manifests: install monitor-rules ## Regenerate deploy/kubernetes/monitoring/generated/ (PrometheusRule, dashboards) from monitoring/
	python deploy/kubernetes/generate.py

$(K8S_TOOLS_STAMP): requirements/checkov.txt
	@test -x $(K8S_TOOLS)/bin/python || $(PYTHON) -m venv $(K8S_TOOLS)
	$(K8S_TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(K8S_TOOLS)/bin/python -m pip install --quiet -r requirements/checkov.txt
	@touch $@

k8s-tools: $(K8S_TOOLS_STAMP) ## Install checkov into its own venv (its pins clash with DVC's)

k8s-check: install k8s-tools ## Offline checks of deploy/: generated files fresh, every overlay renders and validates, checkov
	python deploy/kubernetes/generate.py --check
	@for dir in $(OVERLAYS) deploy/kubernetes/monitoring deploy/kserve; do \
		echo "kubectl kustomize $$dir"; kubectl kustomize $$dir > /dev/null || exit 1; done
	pytest -q tests/deploy -m "not slow"

.PHONY: monitor-rules k8s-manifests k8s-tools k8s-check
