# Strongroom: `make run` serves the API on a fresh machine; `make test` runs the whole suite.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# The newest Python >= 3.12 on the machine (the .python-version file pins 3.12 where pyenv is used).
PYTHON ?= $(shell for p in python3.12 python3.13 python3.14 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null \
	&& { echo $$p; break; }; done)
PG_BINDIR ?=
PYTEST_ARGS ?=

.PHONY: help venv run test test-sql lint bench bench-deps clean gui-deps gui screenshots

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "Strongroom needs Python 3.12 or newer; none was found on PATH." >&2; exit 1; fi
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,notebook]'
	@touch $@

venv: $(VENV)/.installed ## create .venv and install the project with its dev and notebook tools

run: venv ## start the database, migrate, and serve the API in the foreground
	$(VENV)/bin/strongroom secrets init
	$(VENV)/bin/strongroom db start
	$(VENV)/bin/strongroom db migrate
	@echo "The database keeps running after Ctrl-C; stop it with: $(VENV)/bin/strongroom db stop"
	@echo "Open the desktop client from another terminal: $(VENV)/bin/strongroom gui"
	$(VENV)/bin/strongroom serve

test: venv gui-deps ## run the whole test suite against a real PostgreSQL
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest $(if $(PG_BINDIR),--pg-bindir=$(PG_BINDIR)) $(PYTEST_ARGS)

test-sql: venv ## only the SQL-level tests (e.g. make test-sql PG_BINDIR=/usr/lib/postgresql/15/bin)
	$(VENV)/bin/pytest tests/sql tests/test_schema.py tests/test_migrations.py \
		$(if $(PG_BINDIR),--pg-bindir=$(PG_BINDIR)) $(PYTEST_ARGS)

lint: venv ## ruff
	$(VENV)/bin/ruff check .

BENCH_DEBS := wrk
bench-deps: ## install the load generator the API benchmark uses (wrk; apt-get when root)
	@if command -v wrk >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing $(BENCH_DEBS) for bench/api"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BENCH_DEBS) >/dev/null; \
	else echo "bench/api uses wrk when installed (Debian/Ubuntu: sudo apt-get install $(BENCH_DEBS)); a slower Python load generator otherwise" >&2; fi

# Each benchmark prints its ratios beside their goals and the load average; for a short run call one
# directly with smaller numbers, e.g. bench/api/run --seconds 3 --rounds 1 (each has --help).
bench: venv bench-deps ## run the benchmarks (ratios against limits measured in the same run, with the load average)
	@echo "load average: $$(cut -d' ' -f1-3 /proc/loadavg) on $$(nproc) cores"
	@status=0; for b in bench/*/run; do [ -x $$b ] || continue; echo "== $$b"; $$b || status=1; done; exit $$status

clean: ## remove the virtualenv and caches (not the database)
	rm -rf $(VENV) .pytest_cache .ruff_cache

# --- desktop client (gui/) ----------------------------------------------------------------------------
GUI_DEBS := xvfb xdotool chromium
gui-deps: ## install what the GUI and /docs tests need (Xvfb, xdotool, chromium; apt-get when root) and check Tk
	@if command -v Xvfb >/dev/null && command -v xdotool >/dev/null && command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing $(GUI_DEBS) for the GUI tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(GUI_DEBS) >/dev/null; \
	else echo "The GUI and /docs tests need Xvfb, xdotool and chromium: install them (Debian/Ubuntu: sudo apt-get install $(GUI_DEBS))" >&2; \
		exit 1; fi
	@$(if $(wildcard $(PY)),$(PY),$(or $(PYTHON),python3)) -c 'import tkinter' 2>/dev/null || { \
		echo "This Python has no tkinter: install Tk for it (Debian/Ubuntu: apt-get install python3-tk tk-dev)" >&2; exit 1; }

screenshots: venv gui-deps ## PNGs of each screen of the desktop client (demo database, Xvfb) in docs/screenshots/
	$(PY) -m tests.gui.screenshots docs/screenshots

gui: venv ## open the desktop client (API=URL; default STRONGROOM_API_URL, else where `make run` serves)
	$(VENV)/bin/strongroom gui $(if $(API),--api $(API))
