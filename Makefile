# binhchon — the commands a newcomer needs. `make help` lists them.
SHELL := /bin/bash
UV_VERSION := 0.13.9
export PATH := $(HOME)/.local/bin:$(PATH)

.PHONY: help up down status clean test test-any-hour lint typecheck contract unit bootstrap infra bench container-tools \
	images compose-test demo alerts-check faults

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

bootstrap: ## install uv (if missing) and the locked Python dependencies
	@command -v uv >/dev/null || { echo "[make] installing uv $(UV_VERSION) from PyPI"; python3 -m pip install --user --quiet "uv==$(UV_VERSION)"; }
	@if command -v cargo >/dev/null; then uv sync --frozen --quiet; else \
	  echo "[make] no cargo: libs/audit-core (the auditor's compiled reader) left out, binhchon-audit reads in Python"; \
	  uv sync --frozen --quiet --no-install-package binhchon-audit-core; fi
	@echo "[make] Python dependencies in sync with uv.lock"

infra: ## install Apache Kafka and FerretDB into ~/.cache/binhchon, PostgreSQL from Debian (idempotent)
	@infra/local/install.sh all

up: bootstrap infra ## run the whole stack natively (Kafka, PostgreSQL, FerretDB, services)
	@infra/local/stack.sh up

down: ## stop the stack (data kept)
	@infra/local/stack.sh down

status: ## what runs, and whether each service is ready
	@infra/local/stack.sh status

clean: ## stop the stack and delete its data
	@infra/local/stack.sh clean

lint: bootstrap
	uv run --no-sync ruff check .

typecheck: bootstrap
	uv run --no-sync mypy

# promtool from Debian's prometheus package (unpacked into ~/.cache/binhchon when not on PATH; no server started)
alerts-check: ## check the alert rules (infra/prometheus/alerts.yml) and fire each on a synthetic series
	@infra/prometheus/check.sh

contract: bootstrap ## fail if docs/contract differs from what the code generates
	uv run --no-sync python -m binhchon_kit.contracts.export --check

# the portal's browser tests drive Debian's chromium (infra/local/chromium.sh installs it when it is missing) and
# inject axe-core (infra/local/axe.sh: the pinned version from npm, into ~/.cache/binhchon)
test: bootstrap infra lint typecheck contract alerts-check ## install what is missing, then run every test against real Kafka and FerretDB
	@infra/local/chromium.sh
	@infra/local/axe.sh >/dev/null
	uv run --no-sync pytest

# One fault per test on a system of its own (its broker, its store, the four services as processes, a mail catcher)
# while N dossiers go through two levels; the checker after each (docs/adr/0041). FAULTS_N=20 for a quick run.
FAULTS_N ?= 100
# the whole run's bound in seconds (.ci/run gives it 35 minutes of CI's 90)
FAULTS_TIMEOUT ?= 5400
faults: bootstrap infra ## the fault suite: SIGKILLs, duplicates and replays, poison, outages, replicas; a summary table
	BINHCHON_FAULTS=1 FAULTS_N=$(FAULTS_N) timeout $(FAULTS_TIMEOUT) uv run --no-sync pytest -q tests/faults

# The unit suites need no server: the service layers run on the in-memory event store and database (issue 10).
# Kafka and MongoDB are pointed at a port nothing listens on, so a unit test that reached for a server would fail.
unit: bootstrap ## the kit's and the five services' unit suites, with no Kafka and no database anywhere
	KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9 MONGODB_URL=mongodb://127.0.0.1:9/ uv run --no-sync pytest -q \
		libs/kit/tests/unit services/intake/tests/unit services/scoring/tests/unit \
		services/certification/tests/unit services/notify/tests/unit services/portal/tests/unit

# No image registry answers here: the engine comes from Debian, its plugins from their Go modules, the base image
# from debootstrap. Each step is skipped when what it makes is there already.
container-tools: ## Docker engine (Debian's, root), compose and buildx built from Go modules, a Debian base image
	@infra/docker/install.sh all
	@infra/docker/base-image.sh

# Registry images where a registry answers, local equivalents built where none does (BINHCHON_IMAGES=auto|local|
# registry); writes infra/compose/images.env for `docker compose --env-file`.
images: container-tools infra ## every image the compose deployment runs (build seconds and sizes as JSON lines)
	@infra/images/build.sh

# The compose deployment run for real under a project of its own (free ports, removed at the end): a whole round
# through the published ports, services killed and back. PROFILE=ha: three brokers, two replicas of each service.
PROFILE ?=
compose-test: bootstrap images ## docker compose up, a whole round with crashes, down -v (PROFILE=ha for the ha overlay)
	BINHCHON_COMPOSE_PROFILE=$(PROFILE) timeout 1800 uv run --no-sync pytest -q -s --timeout 1500 infra/compose/tests

demo: ## a season of OCOP rating at two levels loaded into the running stack (make up first), and what it left
	uv run --no-sync binhchon-scenario

# Between these two zones the machine's date differs from Vietnam's at every hour of the day: a test that takes
# "today" from the machine instead of the service's clock fails in one of them.
# ZONES=… for some of them only (CI runs its first `make test` in UTC+14 and this in UTC-11 alone).
ZONES ?= Pacific/Kiritimati Pacific/Pago_Pago
test-any-hour: bootstrap infra ## every test again with the machine in UTC+14 and in UTC-11
	@set -e; for zone in $(ZONES); do echo "[make] every test with TZ=$$zone"; TZ=$$zone uv run --no-sync pytest -q; done

# The bench group brings the peer library bench/event_store.py measures against; `make test` syncs it away again.
bench: bootstrap infra ## submits, a scoring round, certificates, notifications, read models at N, the event store, event decoding, FerretDB pushdown
	@uv sync --frozen --quiet --group bench
	uv run --no-sync python bench/intake_submit.py
	uv run --no-sync python bench/scoring_round.py
	uv run --no-sync python bench/certification_issue.py
	uv run --no-sync python bench/notify_deliver.py
	uv run --no-sync python bench/read_models.py
	uv run --no-sync python bench/event_store.py
	uv run --no-sync python bench/event_model.py
	uv run --no-sync python bench/ferretdb_pushdown.py
