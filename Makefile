# singer-bridge: the README's two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Tap venvs live here (gitignored); tests and the demo share them.
export SINGER_BRIDGE_VENVS ?= $(CURDIR)/.cache/tap-venvs
PYTEST_WORKERS ?= 2

.PHONY: install demo test test-fast lint bench bench-scale docs dist clean

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

# The hot path (realistic and ASCII data), HTTP concurrency, real taps alone vs behind the
# bridge (PostgreSQL), parallel tap processes; figures into BENCHMARKS.md.
bench: install
	$(BIN)/python bench/run.py

# Peak RSS flat from 1,000,000 to 10,000,000 records (generates a ~6 GB file once).
bench-scale: install
	$(BIN)/python bench/run.py --scale 1000000 10000000

docs: install
	$(BIN)/mkdocs build --strict -f mkdocs.yml

# A pure wheel (py3-none-any) and an sdist, checked the way a package index checks them.
dist: install
	rm -rf dist
	$(BIN)/python -m build --sdist --wheel --outdir dist .
	@ls dist/singer_bridge-*-py3-none-any.whl >/dev/null || { echo "dist: the wheel is not py3-none-any" >&2; exit 1; }
	$(BIN)/python -m twine check --strict dist/*

clean:
	rm -rf $(VENV) .cache build dist *.egg-info
