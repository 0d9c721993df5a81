# leaklab: the user's verbs. `make help` lists them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install system-packages test-packages demo talk up status load down compose-up compose-down test lint generate unit integration e2e screenshot clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

system-packages: ## Install PostgreSQL, Redis and Prometheus from the system's packages, if missing
	@bash scripts/install-system-packages.sh

test-packages: ## The servers, and Chromium for the browser tests
	@bash scripts/install-system-packages.sh --browser

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[demo,dev]'
	@touch $@

install: system-packages $(STAMP) ## Create .venv with the pinned Python packages (and the servers)

demo: install ## Start the native stack, send a burst to both apps, show what leaked
	$(BIN)/leaklab demo

talk: install ## The talk, one stage per Enter (leaklab talk --help for --auto)
	$(BIN)/leaklab talk

up: install ## Start PostgreSQL, Redis, both apps and Prometheus on 127.0.0.1
	$(BIN)/leaklab up

status: install ## Show what runs where and whether it is healthy
	$(BIN)/leaklab status

load: install ## Locust at both apps, web UI on http://127.0.0.1:8089 (Ctrl-C stops it)
	$(BIN)/leaklab load

down: install ## Stop the native stack (logs stay in .run/logs)
	$(BIN)/leaklab down

compose-up: ## The whole stack with Grafana in Docker (needs .env: cp .env.example .env)
	docker compose up -d --build
	@echo "Grafana    http://127.0.0.1:$${GRAFANA_PORT:-3000}  (dashboard: leaklab: leaky vs fixed)"
	@echo "Locust     http://127.0.0.1:$${LOCUST_WEB_PORT:-8089}"
	@echo "Prometheus http://127.0.0.1:$${LEAKLAB_PROMETHEUS_PORT:-9090}"
	@echo "leaky      http://127.0.0.1:$${LEAKLAB_LEAKY_PORT:-8001}   fixed http://127.0.0.1:$${LEAKLAB_FIXED_PORT:-8002}"

compose-down: ## Stop the Docker stack
	docker compose down

lint: install ## ruff and mypy
	$(BIN)/ruff check src services tests bench locust
	$(BIN)/ruff format --check src services tests bench locust
	$(BIN)/mypy

generate: $(STAMP) ## Rewrite the dashboard and the Prometheus rules (and their tests) from the scenario registry
	$(BIN)/python -m leaklab.generate

test: lint test-packages ## The whole suite against real servers (what CI runs)
	$(BIN)/pytest $(PYTEST_ARGS)

unit: install ## Only the fast tests
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

integration: install ## Real PostgreSQL, Redis, Gunicorn
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

e2e: install test-packages ## The whole native stack through the leaklab command (and Chromium)
	$(BIN)/pytest tests/e2e $(PYTEST_ARGS)

screenshot: install test-packages ## Redo docs/leaks-view*.png: the Leaks view and its stage layout (1280x720, 1920x1080) in headless Chromium during a load
	LEAKLAB_TEST_ARTIFACTS=docs $(BIN)/pytest tests/e2e/leaklab/test_live_view.py -k "rising or stage"

clean: ## Remove the venv and caches (stop the stack first: make down)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
