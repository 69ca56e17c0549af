# The two README commands. Each creates .venv when absent and installs the project into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/augmentor run recipes/digits.toml --overwrite

test: $(STAMP)
	$(BIN)/ruff check augmentor tests benchmarks
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_generate.py
	$(BIN)/python benchmarks/bench_synthesize.py

lint: $(STAMP)
	$(BIN)/ruff check augmentor tests benchmarks

clean:
	rm -rf runs .pytest_cache
