# Credit scoring code location: the commands a newcomer runs.
#   make demo   run the pipeline end to end on the sample data and print a summary
#   make test   run the whole test suite (unit, integration, reliability, browser)
#   make reliability  the reliability suite alone, with its report table
#   make dev    start the mock API and the Dagster UI together (Ctrl-C stops both)
#   make cluster  the whole local cluster: PostgreSQL, S3, Redis, daemon, webserver, code
#               server and WORKERS=2 Celery workers as plain processes (Ctrl-C stops all)

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV_VERSION := 0.13.8
PYTEST_ARGS ?=
# Test processes in parallel (pytest-xdist); most tests wait on real servers, dbt and runs.
# (A third process on two cores was measured: no faster within the noise, every test slower.)
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup
# The tests' state (homes, lakes, ledgers, Dagster's storage, the test servers' data, dbt's
# exports) goes to a RAM disk when the machine has one with room: every run commits Dagster's
# and the ledger's SQLite files hundreds of times, and on disk each commit waits for a flush.
# Kept after a failing run (to read), removed after a passing one. TEST_TMP= uses /tmp instead.
# One folder per checkout, so that two checkouts' test runs never share (or delete) one.
TEST_TMP ?= $(shell df -Pk /dev/shm 2>/dev/null | \
	awk -v id=$$(printf %s '$(CURDIR)' | cksum | cut -d' ' -f1) \
	'NR == 2 && $$4 > 8 * 1024 * 1024 { print "/dev/shm/credit-scoring-tests-" id }')
define run_tests
	$(if $(TEST_TMP),rm -rf $(TEST_TMP) && mkdir -p -m 755 $(TEST_TMP))
	$(if $(TEST_TMP),TMPDIR=$(TEST_TMP)) $(PYTEST) $(if $(TEST_TMP),--basetemp=$(TEST_TMP)/pytest) $(1)
	$(if $(TEST_TMP),rm -rf $(TEST_TMP))
endef
# Every run, dbt call and worker is a new Python process: let them reuse compiled bytecode
# (a shell that sets PYTHONDONTWRITEBYTECODE would make each one compile Dagster, dbt and
# pandas from source again, which costs seconds per process).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: setup manifest chromium postgres postgres-server s3-server cluster bench-cluster image-check demo dev test reliability bench bench-ledger bench-scaled profile docs lint format lock clean

# These targets run against the local mock APIs: say so, or the code location refuses to load
# without real Flinks and Taktile endpoints (FLINKS_BASE_URL, FLINKS_CUSTOMER_ID,
# TAKTILE_BASE_URL).
demo dev test reliability bench bench-scaled bench-cluster cluster profile: export CREDIT_SCORING_ENV := dev

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

# dbt's manifest must exist before the code location loads its dbt assets. Parsed for the
# in-memory database every Dagster dbt step uses, once per profile target (a lake on disk; a
# lake on S3, into target/s3), so that a step on a new home or a new machine starts from this
# parse instead of parsing the whole project.
manifest: setup
	cd dbt_analytics && CREDIT_SCORING_HOME=$(CURDIR)/.credit_scoring CREDIT_SCORING_DBT_DATABASE=:memory: \
		../$(BIN)/dbt parse --quiet \
		--project-dir . --profiles-dir .
	cd dbt_analytics && CREDIT_SCORING_HOME=$(CURDIR)/.credit_scoring CREDIT_SCORING_DBT_DATABASE=:memory: \
		../$(BIN)/dbt parse --quiet --target s3 --target-path target/s3 \
		--project-dir . --profiles-dir .

demo: setup manifest
	$(BIN)/python -m devtools.demo

dev: setup manifest
	$(BIN)/python -m devtools.devserver

# The ledger's and Dagster's PostgreSQL tests start their own throwaway server from Debian's
# PostgreSQL programs (run as the `postgres` user when we are root: it refuses root).
postgres:
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || { \
		echo "installing PostgreSQL from Debian's packages (for the PostgreSQL tests)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }

# A throwaway PostgreSQL on loopback to try the ledger and Dagster on it (Ctrl-C stops it).
postgres-server: setup postgres
	$(BIN)/python -m devtools.postgres

# A throwaway S3-compatible server (moto) on loopback, with a bucket, to try the lake on object
# storage (Ctrl-C stops it and deletes every object).
s3-server: setup
	$(BIN)/python -m devtools.s3

# The whole cluster on this machine, each piece a plain process in its own directory: the
# services (PostgreSQL, S3, Redis, the mock APIs), dagster-daemon and the webserver on
# http://127.0.0.1:$(PORT), the code server, and $(WORKERS) Celery workers. Ctrl-C stops all.
WORKERS ?= 2
PORT ?= 3000
cluster: setup manifest postgres
	$(BIN)/python -m devtools.cluster --workers $(WORKERS) --port $(PORT)

# The browser test drives Debian's Chromium (Playwright cannot download browsers here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Chromium from Debian's packages (for the browser test)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

test: setup manifest chromium postgres
	$(call run_tests,$(PYTEST_ARGS))

# The reliability suite alone (faults, crashes, concurrency, bad input, secrets), then its
# table: scenario, faults injected, recovered, recorded as ERROR, rows lost, duplicates.
reliability: setup manifest postgres
	$(call run_tests,-m reliability $(PYTEST_ARGS))

# dbt's documentation site for the features and monitoring models (target/ in dbt_analytics).
docs: setup manifest
	cd dbt_analytics && CREDIT_SCORING_HOME=$(CURDIR)/.credit_scoring ../$(BIN)/dbt docs generate \
		--project-dir . --profiles-dir . --empty-catalog
	@echo "open dbt_analytics/target/index.html (or: cd dbt_analytics && ../$(BIN)/dbt docs serve --profiles-dir .)"

# Figures for one generated day at three sizes, medians of three runs (not part of make test).
bench: setup manifest
	$(BIN)/python -m bench.figures

# One day of 800k transactions through the ledger (register, claim, close), SQLite against
# PostgreSQL, in one run.
bench-ledger: setup postgres
	$(BIN)/python -m bench.ledger_registration

# One generated day (1,000 applications) through the whole graph: embedded against PostgreSQL + S3.
bench-scaled: setup manifest postgres
	$(BIN)/python -m bench.scaled_stack

# A generated 30-day backfill (125 applications a day) through the local cluster, with one and
# with two Celery workers, in one run; partitions processed twice are counted.
bench-cluster: setup manifest postgres
	$(BIN)/python -m bench.cluster_backfill

# Where a whole-graph run of a 500k-transaction day spends its CPU (py-spy), by function.
profile: setup manifest
	$(BIN)/python -m bench.profile

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Regenerate the lock files after changing dependencies in pyproject.toml: requirements.lock
# (everything: the code location, the mock, tests, benchmarks) and deploy/requirements.lock (the
# code location alone, for the image).
lock: setup
	$(BIN)/uv pip compile pyproject.toml --extra mock --extra dev --extra bench --python-version 3.11 \
		--generate-hashes \
		--quiet -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --generate-hashes \
		--quiet -o deploy/requirements.lock

# The image's build commands (deploy/build.sh, as deploy/Dockerfile runs them) in a fresh venv,
# then `dg check defs`-style loading of the code location from it.
IMAGE_CHECK_VENV ?= /tmp/credit-scoring-image-check
image-check: setup
	rm -rf $(IMAGE_CHECK_VENV)
	PYTHON=$(PYTHON) deploy/build.sh $(IMAGE_CHECK_VENV)
	CREDIT_SCORING_ENV=dev CREDIT_SCORING_HOME=$(IMAGE_CHECK_VENV)/home \
		$(IMAGE_CHECK_VENV)/bin/dagster definitions validate -m credit_scoring.definitions

clean:
	rm -rf $(VENV) .credit_scoring .pytest_cache .ruff_cache dbt_analytics/target dbt_analytics/logs
