# kassa developer tasks. Everything runs from the .venv virtualenv, which is (re)installed
# only when pyproject.toml changes (stamp file .venv/.installed).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Extra arguments for pytest, e.g. make test PYTEST_ARGS="-k foo -x"
PYTEST_ARGS ?=

# `make run` listens on 127.0.0.1:8000 unless KASSA_HOST / KASSA_PORT say otherwise; all other
# KASSA_* settings (KASSA_DATABASE_URL, ...) are passed through from the environment.
KASSA_HOST ?= 127.0.0.1
KASSA_PORT ?= 8000
# the built-in adapters `make run` mounts (docs/adapters.md); with both sandbox adapters the
# demo storefront is at /demo too (docs/demo.md)
# (for `make run` only: tests and benches choose their own)
run: export KASSA_BUILTIN_ADAPTERS ?= nonpsp_adapter,kassa_sandbox_psp_adapter,kassa_sandbox_shipping_adapter
export KASSA_HOST KASSA_PORT

LINT_PATHS := src tests bench tools

.PHONY: venv run demo test check fmt fuzz bench profile bench-hooks bench-adapter bench-notifications clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e '.[dev]'
	touch $@

run: venv
	$(BIN)/kassa migrate
	$(BIN)/kassa apikey ensure-dev
	$(BIN)/kassa operator ensure-dev
	exec $(BIN)/kassa serve

# A sandbox checkout in one command: fresh ./kassa-demo.db, the demo merchant, an API key, the
# Non-PSP and sandbox adapters configured, the storefront at http://127.0.0.1:8000/demo
# (docs/demo.md). DEMO_ARGS go to `kassa demo`, e.g. DEMO_ARGS="--port 8080 --keep".
DEMO_ARGS ?=
demo: venv
	exec $(BIN)/kassa demo $(DEMO_ARGS)

# SQLite run, then PostgreSQL run against a throwaway server; see scripts/test.sh.
test: venv
	VENV=$(VENV) bash scripts/test.sh $(PYTEST_ARGS)

# ruff, ruff format, mypy --strict, and the architecture contracts of pyproject.toml
# [tool.importlinter] (tools/ holds kassa's own contract type).
check: venv
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy src tests
	PYTHONPATH=tools $(BIN)/lint-imports --no-logo --no-cache

fmt: venv
	$(BIN)/ruff format $(LINT_PATHS)
	$(BIN)/ruff check --fix $(LINT_PATHS)

# schemathesis against a live `kassa serve` over /openapi.json, every phase, about 3 minutes;
# fails on any finding. FUZZ_ARGS go to `schemathesis run`, e.g. FUZZ_ARGS="--seed 1".
FUZZ_ARGS ?=
fuzz: venv
	VENV=$(VENV) bash scripts/fuzz.sh $(FUZZ_ARGS)

bench: venv
	bash bench/run.sh

# Where the time of one request goes: py-spy profiles of GET order and POST transaction by
# category, e.g. BENCH_DATABASE=postgres make profile; see docs/performance.md.
profile: venv
	VENV=$(VENV) bash bench/profile.sh

# Notification delivery throughput of one `kassa worker`, e.g.
# make bench-notifications NOTIFY_ARGS="--events 20000 --database postgresql+asyncpg://..."
NOTIFY_ARGS ?=
bench-notifications: venv
	$(BIN)/python bench/notifications.py $(NOTIFY_ARGS)

# What a hook adds to a write (one client, local receiver); see docs/performance.md.
bench-hooks: venv
	$(BIN)/python bench/hook_cost.py

# what a Non-PSP adapter request costs on top of the direct Order API call it makes
bench-adapter: venv
	$(BIN)/python bench/adapter_cost.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build src/*.egg-info
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
