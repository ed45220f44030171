# interbrain: `make demo` and `make test` each create .venv, install, and run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test bench-env clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/interbrain demo --dir demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# benchmarks (run by hand, see benchmarks/README.md) need the peers in their own venv
bench-env: .venv-bench/.installed-stamp

.venv-bench/.installed-stamp: pyproject.toml
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install --quiet --upgrade pip
	.venv-bench/bin/python -m pip install --quiet -e ".[bench]"
	touch .venv-bench/.installed-stamp

clean:
	rm -rf $(VENV) demo .pytest_cache .hypothesis
