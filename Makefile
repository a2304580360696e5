# The verbs a newcomer needs. Everything runs through uv in the workspace's one virtual environment.
#
#   make install   make up   make test   make lint   make fmt   make help

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# uv if it is on PATH, else as a module (make up / make test install it with pip on a fresh machine).
UV ?= $(if $(shell command -v uv 2>/dev/null),uv,python3 -m uv)
# Packages mypy checks (strict; configured in pyproject.toml [tool.mypy]). Add each new service's src.
SRC_DIRS ?= contracts/src libs/eventing/src libs/runtime/src libs/devstack/src services/register/src services/procurement/src services/notifications/src services/portal/src
PYTEST_ARGS ?=
SERVICE ?= register
IMAGE_TAG ?= local
# Services whose AsyncAPI documents are written, each by its own `estate-<service> asyncapi`.
ASYNCAPI_SERVICES ?= register procurement notifications

.PHONY: help ensure-uv install up test test-only lint lint-shell fmt screenshots bench schemas asyncapi image \
        compose-config clean

help: ## List the verbs
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

ensure-uv: ## Install uv with pip if this machine has none
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv

install: ensure-uv ## Install every package and the dev tools (uv sync, from uv.lock)
	$(UV) sync --frozen --all-groups

up: install ## Run Estate on this machine (embedded broker, SQLite and demo data unless told otherwise)
	$(UV) run --frozen estate up

test: install lint test-only ## Install, lint, type-check, import contracts, then the whole test suite

test-only: ## The test suite alone (pytest); PYTEST_ARGS="-k name" to narrow it
	@rc=0; $(UV) run pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ "$$rc" -eq 5 ]; then echo "make: pytest collected no tests; that is a failure here" >&2; fi; \
	exit "$$rc"

lint: ## ruff (lint and format check), mypy strict, import-linter contracts
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy $(SRC_DIRS)
	$(UV) run lint-imports

lint-shell: ## shellcheck the shell scripts (needs shellcheck: apt-get install shellcheck)
	shellcheck .ci/run deploy/kafka/create-topics.sh

fmt: ## Format and apply safe lint fixes
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

screenshots: install ## Take the README's screenshots of the portal (the browser tests, against the whole system)
	ESTATE_SCREENSHOTS_DIR=docs/screenshots $(UV) run pytest tests/browser -q

bench: ## Benchmarks (bench/README.md says what they measure)
	$(UV) run python bench/run.py

schemas: ## Rewrite the JSON Schema snapshots of the event contracts
	$(UV) run python -m estate_contracts.schemas write

asyncapi: ## Write each service's AsyncAPI document (FastStream) to contracts/asyncapi/
	@mkdir -p contracts/asyncapi
	@for service in $(ASYNCAPI_SERVICES); do \
	  echo "asyncapi: estate-$$service -> contracts/asyncapi/$$service.yaml"; \
	  $(UV) run estate-$$service asyncapi --out contracts/asyncapi/$$service.yaml; \
	done

image: ## Build the container image of SERVICE (needs a Docker engine)
	docker build -f deploy/Dockerfile --build-arg SERVICE=$(SERVICE) -t estate-$(SERVICE):$(IMAGE_TAG) .

compose-config: ## Validate docker-compose.yml (docker compose config where the plugin exists, else offline)
	@if docker compose version >/dev/null 2>&1; then \
	  ESTATE_NOTIFICATIONS_LINK_SECRET="$${ESTATE_NOTIFICATIONS_LINK_SECRET:-stand-in-for-config-check-xxxxxxxxxxxxxxxx}" \
	  ESTATE_NOTIFICATIONS_SMTP_HOST="$${ESTATE_NOTIFICATIONS_SMTP_HOST:-stand-in-for-config-check}" \
	  ESTATE_PORTAL_SESSION_SECRET="$${ESTATE_PORTAL_SESSION_SECRET:-stand-in-for-config-check-xxxxxxxxxxxxxxxx}" \
	  docker compose -f docker-compose.yml config -q && echo "docker-compose.yml: valid"; \
	else \
	  echo "docker compose is not installed here; checking docker-compose.yml offline instead"; \
	  $(UV) run pytest -q tests/test_deploy_static.py; \
	fi

clean: ## Remove caches and build output (not .venv)
	rm -rf .mypy_cache .ruff_cache .pytest_cache .import_linter_cache build dist
	find . -path ./.venv -prune -o -path ./.git -prune -o \
	  \( -name __pycache__ -o -name '*.egg-info' \) -type d -print0 | xargs -0 rm -rf
