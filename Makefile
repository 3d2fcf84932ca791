# The two commands a newcomer needs (see README):
#   make run    install the pipeline and the CLI into .venv, write the embedded sample data, run all quarters
#   make test   install everything for development into .venv, lint, run the test suite
# Every install is from the lock files in requirements/ (README, "Installing"); `make lock`
# regenerates them from pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
PIP_VERSION := 26.3
UV_VERSION := 0.13.9

.PHONY: install install-base run test check lint format lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# $(1): the lock file of one install (base, ui, postgres or dev). Every distribution in it, pinned
# and hash-checked, with no resolving; then the project itself, editable, built by the pinned and
# hash-checked build backend (requirements/build.txt); pip check proves nothing is missing.
define install_locked
	$(PIP) install --quiet pip==$(PIP_VERSION)
	$(PIP) install --quiet --require-hashes --no-deps -r requirements/$(1).txt
	$(PIP) install --quiet --no-deps --build-constraint requirements/build.txt -e .
	$(PIP) check
endef

# the pipeline and the CLI
$(VENV)/.installed-base: pyproject.toml requirements/base.txt requirements/build.txt | $(BIN)/python
	$(call install_locked,base)
	touch $@

# everything: the base, the ui and postgres extras, tests, browsers, lint (dev holds base)
$(VENV)/.installed-dev: pyproject.toml requirements/dev.txt requirements/build.txt | $(BIN)/python
	$(call install_locked,dev)
	touch $(VENV)/.installed-base $@

install-base: $(VENV)/.installed-base

install: $(VENV)/.installed-dev

# requirements/*.txt from pyproject.toml, for every platform and Python >= 3.11, with hashes.
# Pins already in a lock file are kept unless pyproject.toml moves them; LOCK_ARGS=--upgrade
# moves every transitive pin to its newest allowed release. uv asks PyPI, not pip's index
# (UV_DEFAULT_INDEX=<url> for a mirror). dev.txt is resolved first; the others are its subsets.
LOCK = $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" $(LOCK_ARGS)

lock: | $(BIN)/python
	$(PIP) install --quiet uv==$(UV_VERSION)
	$(LOCK) pyproject.toml --all-extras -o requirements/dev.txt
	$(LOCK) pyproject.toml -c requirements/dev.txt -o requirements/base.txt
	$(LOCK) pyproject.toml -c requirements/dev.txt --extra ui -o requirements/ui.txt
	$(LOCK) pyproject.toml -c requirements/dev.txt --extra postgres -o requirements/postgres.txt
	$(LOCK) requirements/build.in -c requirements/dev.txt -o requirements/build.txt

run: install-base
	$(BIN)/league sample-data
	$(BIN)/league backfill --from "2025/26 Q1" --to "2025/26 Q4"
	$(BIN)/league status
	$(BIN)/league table --quarter "2025/26 Q1" --peer-group ambulance

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# the fast inner loop: lint plus the unit tests (no Dagster runs, servers, browsers, CLI
# processes or whole quarters built and published: those are in tests/integration)
check: lint
	$(BIN)/python -m pytest -q -n 2 --dist loadfile tests/unit

# two workers (CI has 2 cores); a test file stays on one worker so its fixtures are built once
test: lint
	$(BIN)/python -m pytest -n 2 --dist loadfile
