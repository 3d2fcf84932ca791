# The two commands a newcomer needs (see README):
#   make run    install everything into .venv, write the embedded sample data, run all quarters
#   make test   install everything into .venv, lint, run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run test check lint format

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

run: install
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

# the fast inner loop: lint plus the unit tests (no Dagster runs, servers or browsers)
check: lint
	$(BIN)/python -m pytest -q -n 2 tests/unit

# two workers (CI has 2 cores); a test file stays on one worker so its fixtures are built once
test: lint
	$(BIN)/python -m pytest -n 2 --dist loadfile
