# singer-bridge: the README's two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Tap venvs live here (gitignored); tests and the demo share them.
export SINGER_BRIDGE_VENVS ?= $(CURDIR)/.cache/tap-venvs
PYTEST_WORKERS ?= 2

.PHONY: install demo test test-fast lint bench docs dist clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/python taps/demo.py

test: install
	$(BIN)/python -m tests.support.tapvenv --all
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup

test-fast: install
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -m "not realtap and not slow"

lint: install
	$(BIN)/ruff check singer_bridge tests taps bench
	$(BIN)/ruff format --check singer_bridge tests taps bench
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/run.py

docs: install
	$(BIN)/mkdocs build --strict -f mkdocs.yml

dist: install
	rm -rf dist
	$(BIN)/python -m build --sdist --wheel --outdir dist .

clean:
	rm -rf $(VENV) .cache build dist *.egg-info
