# Callyard. `make run` starts it with embedded defaults; `make test` installs what tests need and runs them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= var/callyard.toml
PYTEST_ARGS ?=
# Tests run on three workers (pytest-xdist; they mostly wait on servers and browsers): each test has its own database schema or file and
# its own ports, so they do not meet; `make test PYTEST_WORKERS=0` runs them one by one.
PYTEST_WORKERS ?= 3
# Tests start hundreds of Python processes (servers, CLI commands); each loads the package's modules
# from bytecode compiled here, not from source: where PYTHONDONTWRITEBYTECODE is set (the machines
# the suite runs on here) Python never writes it itself, and compiling cost each process ~0.1 s of CPU.
COMPILE := $(BIN)/python -m compileall -q src routing channels web

.PHONY: install install-test run test test-unit test-integration test-e2e bench lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test
	@scripts/ensure-chromium
	@scripts/ensure-firefox

run: install
	@$(BIN)/callyard --config $(CONFIG) init
	@$(BIN)/callyard --config $(CONFIG) run

test: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(COMPILE)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

test-unit: install-test
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

test-integration: install-test
	$(COMPILE)
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

test-e2e: install-test
	$(COMPILE)
	$(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)

bench: install-test
	$(BIN)/python -m pytest tests/bench -s -p no:cacheprovider $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
