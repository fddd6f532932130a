# Every target runs inside .venv, created and installed on first use from the pinned
# versions in constraints.txt (Python) and package-lock.json (MathJax and the search
# shim, from npm). A second run reuses both: the stamp files are only rebuilt when
# pyproject.toml, constraints.txt or the npm manifests change.

.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
EXTRAS := test,docs
export NO_MKDOCS_2_WARNING := 1

.PHONY: help install lint typecheck test notebooks docs serve bench bench-docs clean lock

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet --constraint constraints.txt pip
	$(BIN)/python -m pip install --quiet --constraint constraints.txt --editable '.[$(EXTRAS)]'
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

install: $(STAMP) $(NODE_STAMP) ## Create .venv (if missing) and install pinned Python and npm packages

lint: install ## ruff: lint and formatting
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install ## mypy (strict) on the package and the tests
	$(BIN)/mypy

test: lint typecheck ## The one gate: lint, types, then every test and doctest (builds the site once)
	$(BIN)/python -m pytest

notebooks: install ## Execute every page afresh (in parallel, timed cells alone) into build/executed
	$(BIN)/python docs/execute.py

docs: notebooks ## Execute every page afresh (make notebooks), then render site/ (strict)
	$(BIN)/mkdocs build --strict

serve: install ## Serve with live reload; each (re)build executes only the pages whose inputs changed
	$(BIN)/python docs/execute.py --cached
	$(BIN)/mkdocs serve --strict --dev-addr 127.0.0.1:8000

bench: install ## Optimizer steps against torch.optim; the cost of each form of decay, 1e3 to 1e8 parameters
	$(BIN)/python benchmarks/optimizer_step.py
	$(BIN)/python benchmarks/decay_cost.py

bench-docs: install ## Execute the pages twice, one after another and in parallel; render; compare
	$(BIN)/python benchmarks/docs_build.py

lock: ## Re-resolve the newest allowed Python versions into constraints.txt (needs the registry)
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet torch==2.13.0 '.[$(EXTRAS)]'
	.lock-venv/bin/python -m pip freeze --all --exclude-editable \
		| sed 's/+cpu$$//' | grep -v '^weightdecay' > constraints.txt
	rm -rf .lock-venv

clean: ## Remove the environments, caches and the built site
	rm -rf $(VENV) .lock-venv node_modules site build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
