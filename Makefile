# Set-up and checks for a fresh machine: `make demo` (set up, run the main job), `make test` (set up, run every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check --quiet
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))
REGISTRY_DIR := $(patsubst %/pyproject.toml,%,$(wildcard registry/pyproject.toml))
INSTALL_MARK := $(VENV)/.installed

.PHONY: setup demo test lint clean

setup: $(INSTALL_MARK)

# torch is installed first and pinned by constraints.txt, so nothing pulls a CUDA build.
$(INSTALL_MARK): pyproject.toml constraints.txt $(wildcard plugins/*/pyproject.toml) $(wildcard registry/pyproject.toml)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install torch==2.13.0
	$(PIP) install -c constraints.txt -e ".[test]" $(foreach dir,$(PLUGIN_DIRS) $(REGISTRY_DIR),-e $(dir))
	touch $@

demo: setup
	$(BIN)/sora list

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
