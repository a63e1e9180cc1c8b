# support-audit: `make quickstart` and `make test` are all a new user needs.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
export UV_COMPILE_BYTECODE := 1
export UV_LINK_MODE := copy
# No usage telemetry from the ephemeral Prefect server the flows start.
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: help uv venv quickstart quickstart-s3 quickstart-vendor test test-fast lint typecheck bench bench-vendors bench-peers bench-scale browser clean

help: ## Show the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

uv: ## Install uv with pip when it is missing
	@command -v uv >/dev/null 2>&1 || test -x $(HOME)/.local/bin/uv || $(PYTHON) -m pip install --user --quiet uv || $(PYTHON) -m pip install --quiet uv

# The project's own packages are installed editable, so `--compile-bytecode` leaves them out;
# compiling them here spares every process (flows, report workers, Dask workers) compiling them
# again where PYTHONDONTWRITEBYTECODE is set (CI images often set it).
PACKAGES := catalogue configs transforms expectations storage ingestion adapters warehouse report flows devtools bench

venv: uv ## Create .venv from uv.lock (bytecode compiled)
	@$$(command -v uv || echo $(HOME)/.local/bin/uv) sync --frozen --compile-bytecode --quiet
	@.venv/bin/python -m compileall -q -j 0 $(PACKAGES) >/dev/null

quickstart: venv ## Generate sample exports, run the audit flows, publish tables, Data Docs and the report
	@.venv/bin/audit quickstart

quickstart-s3: venv ## The quickstart through the embedded local S3 endpoint
	@.venv/bin/audit quickstart --s3

quickstart-vendor: venv ## The quickstart on the sample written as Zendesk + Amazon Connect exports (docs/vendors.md)
	@.venv/bin/audit quickstart --vendor zendesk+connect

browser: ## Install Debian's Chromium for the report's browser test (skipped when apt is unavailable)
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	  (apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1) \
	  || echo "note: chromium not installed; the browser test will be skipped"; }

test: venv browser ## Run the whole test suite (lint, types, unit, integration, browser)
	@.venv/bin/ruff check . && .venv/bin/ruff format --check . >/dev/null
	@.venv/bin/mypy
	@.venv/bin/pytest -n 2 --dist loadgroup -q

test-fast: venv ## Unit tests only
	@.venv/bin/pytest -q -m "not integration and not browser"

lint: venv
	@.venv/bin/ruff check . && .venv/bin/ruff format --check .

typecheck: venv
	@.venv/bin/mypy

bench: venv ## Benchmark one audit day of a large centre (see bench/RESULTS.md)
	@.venv/bin/python -m bench.run_bench

bench-vendors: venv ## One export day of Zendesk + Connect exports converted to contract rows, folder and S3 (about 15 min)
	@.venv/bin/python -m bench.vendors

bench-peers: venv ## Peer flags on three generated centres: planted agents found, ordinary agents' flag rate (about 4 min)
	@.venv/bin/python -m bench.peers

bench-scale: venv ## An audit day of 1k, 5k and 10k agents, and the fixed cost of a run (about 2.5 h; docs/scaling.md)
	@.venv/bin/python -m bench.scale
	@test -d .quickstart/warehouse || $(MAKE) quickstart
	@.venv/bin/python -m bench.startup

clean: ## Remove generated data (keeps .venv)
	rm -rf .quickstart .bench-cache .artifacts
