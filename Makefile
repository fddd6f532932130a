# Every target runs inside .venv, created and installed on first use from the pinned
# versions in constraints.txt. A second run reuses it: the stamp file is only rebuilt
# when pyproject.toml or constraints.txt change.

.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS := test

.PHONY: help install lint typecheck test clean lock

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet --constraint constraints.txt pip
	$(BIN)/python -m pip install --quiet --constraint constraints.txt --editable '.[$(EXTRAS)]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv (if missing) and install the package with pinned dependencies

lint: install ## ruff: lint and formatting
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install ## mypy (strict) on the package and the tests
	$(BIN)/mypy

test: lint typecheck ## The one gate: lint, types, then every test and doctest
	$(BIN)/python -m pytest

lock: ## Re-resolve the newest allowed versions into constraints.txt (needs the registry)
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet torch==2.13.0 '.[$(EXTRAS)]'
	.lock-venv/bin/python -m pip freeze --all --exclude-editable \
		| sed 's/+cpu$$//' | grep -v '^weightdecay' > constraints.txt
	rm -rf .lock-venv

clean: ## Remove the virtual environment, caches and build output
	rm -rf $(VENV) .lock-venv site build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
