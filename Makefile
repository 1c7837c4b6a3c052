# Set-up and checks for a fresh machine: `make demo` (set up, run the main job), `make test` (set up, run every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check --quiet
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))
REGISTRY_DIR := $(patsubst %/pyproject.toml,%,$(wildcard registry/pyproject.toml))
INSTALL_MARK := $(VENV)/.installed
STUDIO_FRONTEND := sora_core/studio/frontend
STUDIO_BUNDLE := sora_core/studio/static/app.js

.PHONY: setup demo test lint browser docs clean

setup: $(INSTALL_MARK) $(STUDIO_BUNDLE)

# torch is installed first and pinned by constraints.txt, so nothing pulls a CUDA build.
$(INSTALL_MARK): pyproject.toml constraints.txt $(wildcard plugins/*/pyproject.toml) $(wildcard registry/pyproject.toml)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install torch==2.13.0
	$(PIP) install -c constraints.txt -e ".[test,docs,ray,tune]" $(foreach dir,$(PLUGIN_DIRS) $(REGISTRY_DIR),-e $(dir))
	touch $@

# Sora Studio's page (`sora studio`): React Flow bundled by esbuild into sora_core/studio/static/ (git-ignored),
# from the npm registry at set-up time only. Without npm, as root with apt-get, Debian's nodejs and npm are installed.
$(STUDIO_BUNDLE): $(STUDIO_FRONTEND)/package.json $(STUDIO_FRONTEND)/package-lock.json $(wildcard $(STUDIO_FRONTEND)/src/*)
	@if ! command -v npm >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
		else echo "error: npm is needed to build Sora Studio's page (apt-get install nodejs npm)" >&2; exit 1; fi; \
	fi
	cd $(STUDIO_FRONTEND) && npm ci --no-audit --no-fund && npm run build
	touch $@

demo: setup
	$(BIN)/sora list
	$(BIN)/sora generate "a red circle moving right" -o demo.mp4 --contact-sheet demo.png

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The drawing and catalog screenshot tests need Debian's chromium (and graphviz's dot); as root with apt-get
# they are installed once, elsewhere those tests skip and say so.
browser:
	@if command -v chromium >/dev/null && command -v dot >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium graphviz >/dev/null) \
		|| echo "warning: could not install chromium and graphviz; their tests will skip"; \
	else echo "note: chromium or graphviz missing (apt-get install chromium graphviz); their tests will skip"; fi

test: lint browser
	$(BIN)/python -m pytest

# The documentation site (mkdocs.yml: the README, docs/*.md and an API reference from the docstrings) into site/;
# --strict fails on any broken link or reference. tests/test_docs_site.py builds it too. The front page's screenshot:
# python scripts/screenshot_html.py site/index.html docs/images/docs-site.png --width 1280 --height 860
docs: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache site
