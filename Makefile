# interbrain: `make demo` and `make test` each create .venv, install, and run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# pytest-xdist workers of `make test` (work stealing: the long end-to-end runs do not
# leave one worker idle at the end)
WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -q -n $(WORKERS) --dist worksteal

.PHONY: install demo test test-fast coverage layout bench-env clean chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# headless Chromium (the Debian package) for the report's browser tests
# (tests/test_report_browser.py fails without it, naming this command): checked on every
# `make test` (a look-up on PATH) and installed when missing, with sudo unless root
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
	  || ($(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y chromium)

demo: $(STAMP)
	$(BIN)/interbrain demo --dir demo

# the whole suite (the ".[test]" extra: pytest-xdist, pytest-cov, import-linter, ...),
# in parallel (coverage tracing slows the simulation-heavy tests by about 45%: it has a
# target of its own)
test: $(STAMP) chromium
	$(PYTEST)

# the whole suite with line coverage of the package
coverage: $(STAMP) chromium
	$(PYTEST) --cov=interbrain --cov-report=term

# without the long end-to-end runs (marker `slow`)
test-fast: $(STAMP) chromium
	$(PYTEST) -m "not slow"

# the layout rules alone: layers (lint-imports), cycles, late imports, private names, sizes
layout: $(STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q tests/test_layout.py

# benchmarks (run by hand, see benchmarks/README.md) need the peers in their own venv
bench-env: .venv-bench/.installed-stamp

.venv-bench/.installed-stamp: pyproject.toml
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install --quiet --upgrade pip
	.venv-bench/bin/python -m pip install --quiet -e ".[bench,ducc0]"
	touch .venv-bench/.installed-stamp

clean:
	rm -rf $(VENV) demo .pytest_cache .hypothesis .coverage .coverage.* .import_linter_cache .grimp_cache
