# Two entry points: `make demo` and `make test`. Both install into .venv first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo test docs bench

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# Pinned: the local CPU wheel. An unpinned torch pulls gigabytes of CUDA wheels.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/boundkit verify --quick --out verify-out

test: install
	$(VENV)/bin/ruff check .
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet
	$(PY) -m pytest -n 2 --dist loadfile

# A fresh quick verification refreshes docs/verify.md's snapshot, then the site builds.
docs: install
	tmp=$$(mktemp -d) && $(VENV)/bin/boundkit verify --quick --out $$tmp/out && \
	$(PY) -m simulations.verify.snapshot $$tmp/out --page docs/verify.md && rm -rf $$tmp
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

bench: install
	$(PY) benchmarks/bench_threshold.py
	$(PY) benchmarks/bench_simulations.py
	$(PY) benchmarks/bench_proofs.py
	$(PY) benchmarks/bench_engine.py
	$(PY) benchmarks/bench_sweep.py
	$(PY) benchmarks/bench_knn.py
	$(PY) benchmarks/bench_diffusion.py
