# Developer entry points. `make run` and `make test` do all set-up on a fresh
# machine (python3, the PostgreSQL server binaries and redis-server installed).
# Local servers, passwords and env files live in .run/ (see devtools/setup.py).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

# honcho's children (gunicorn, python rq_worker.py) come from the venv.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help venv setup run test lint bench install-wrk install-chromium screenshots stop clean

help: ## List the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

venv: $(STAMP) ## Create .venv and install requirements-dev.txt

$(STAMP): $(wildcard requirements*.txt)
	@if [ ! -x $(PY) ]; then \
	  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	    || { echo "tandem: python3 must be Python 3.11 or newer" >&2; exit 1; }; \
	  python3 -m venv $(VENV) \
	    || { echo "tandem: cannot create $(VENV) (Debian: apt-get install python3-venv)" >&2; exit 1; }; \
	fi
	$(PY) -m pip install --disable-pip-version-check -r requirements-dev.txt
	@touch $@

setup: venv ## Start/find services, create roles + database, migrate, write .run/env
	$(PY) -m devtools.setup --profile run

run: setup ## Run web (port 8000), worker, clock, the Jira sandbox (port 9000) and the demo
	$(VENV)/bin/honcho -e .run/env -f Procfile.dev start -p 8000

test: venv install-chromium ## Set up the test database (.run/test.env) and run pytest $(PYTEST_ARGS)
	$(PY) -m devtools.setup --profile test
	set -a; . .run/test.env; set +a; $(PY) -m pytest $(PYTEST_ARGS)

screenshots: venv install-chromium ## Run the browser tests and save docs/screenshots/*.png
	$(PY) -m devtools.setup --profile test
	set -a; . .run/test.env; set +a; TANDEM_SCREENSHOTS=1 $(PY) -m pytest tests/browser -q

lint: venv ## ruff check + ruff format --check
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

bench: setup install-wrk ## Run the benchmarks against the development database
	set -a; . .run/env; set +a; $(PY) bench/rls_overhead.py && $(PY) bench/crypto.py \
	  && $(PY) bench/webhook_ingest.py && $(PY) bench/sync_e2e.py

install-wrk: ## Install Debian's wrk (the load generator of bench/webhook_ingest.py) if missing
	@if command -v wrk >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y wrk \
	    || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y wrk; }; \
	else echo "tandem: bench/webhook_ingest.py needs wrk: install it (Debian: sudo apt-get install wrk)"; fi

install-chromium: ## Install Debian's chromium (the browser of tests/browser; Playwright never downloads one)
	@if command -v chromium >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y chromium \
	    || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }; \
	else echo "tandem: tests/browser needs chromium: install it (Debian: sudo apt-get install chromium)"; fi

stop: ## Stop the project-local PostgreSQL/Redis started by setup
	@if [ -x $(PY) ]; then $(PY) -m devtools.setup --stop; \
	else echo "tandem: no $(VENV), so nothing was started"; fi

clean: stop ## Stop local servers and delete .run (passwords, env files, local data)
	rm -rf .run
