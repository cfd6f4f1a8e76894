# The two entry points the README starts with: `make demo` and `make test`.
# Both set up everything they need on a fresh Debian machine: a virtual environment, PyTorch's
# CPU wheel (2.13.0, from local disk on our machines: nothing larger is fetched), the package,
# and Fashion-MNIST (the Debian package dataset-fashion-mnist, when no copy is found).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup data browser demo test lint docs wheel-check notebooks experiments bench-setup compare bench clean

# A Debian python3 without venv gets python3-venv installed, or one line saying what to install.
$(BIN)/python:
	scripts/ensure-venv.sh $(PYTHON) $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

data: setup
	PYTHON=$(BIN)/python scripts/ensure-data.sh

# The main job: LeNet with the book's recipe (seed 000: SGD lr 0.9, 10 epochs, batch 256) on the
# real data, then its test evaluation and its curves (runs/lenet-book/curves.png).
demo: data
	$(BIN)/classicnets train lenet --recipe book --out runs/lenet-book --overwrite
	$(BIN)/classicnets evaluate runs/lenet-book
	$(BIN)/classicnets show runs/lenet-book

# The chapters as notebooks (notebooks/), executed headless with quick=True (about 70 s in all on
# 2 CPU cores) into runs/notebooks/, outputs included; the test suite runs the same script.
notebooks: data
	$(BIN)/python scripts/run_notebooks.py --out runs/notebooks

# The experiments of seeds 003 and 004 (issue 5), into runs/experiments: about 6 minutes on 2 CPU
# cores, plus the two book runs they compare when those are missing (about 3 minutes).
runs/%-book/model.safetensors:
	$(BIN)/classicnets train $* --recipe book --out runs/$*-book --overwrite --quiet

experiments: data runs/mlp-book/model.safetensors runs/lenet-book/model.safetensors
	$(BIN)/classicnets shift runs/mlp-book runs/lenet-book
	$(BIN)/classicnets verify runs/lenet-book
	$(BIN)/classicnets export runs/lenet-book --format npz
	for lab in gd newton landscape sgd optimizers batchnorm; do $(BIN)/classicnets lab $$lab || exit 1; done

# Performance (issue 6), by hand, never in CI. bench-setup builds the book's own environment
# (torch 2.14.1 + torchvision 0.29.1 + d2l 1.0.3, several GB) for the comparison.
bench-setup:
	PYTHON=$(PYTHON) benchmarks/book/setup.sh

compare: setup
	$(BIN)/python benchmarks/compare.py

# The zoo's fast recipes run whole (about 40 minutes), the first batches of every book recipe
# (about 25 minutes), then the leaderboard from their results. Start on an idle machine.
bench: setup
	$(BIN)/python benchmarks/tta.py
	$(BIN)/python benchmarks/book_start.py
	$(BIN)/python benchmarks/speedrun.py
	$(BIN)/python benchmarks/scaling.py
	$(BIN)/python benchmarks/leaderboard.py

# The report's and the demo's tests look at their pages in a real (headless) browser.
browser:
	scripts/ensure-browser.sh

# One pytest-xdist worker per core, each computing on one thread (tests/conftest.py): on 2 cores
# 5 minutes instead of 8 with two threads in one process, where most tests' small tensors leave
# the second core idle.
test: data browser
	$(BIN)/python -m pytest -q -n auto

# Ruff (lint, and the formatting checked) over the whole tree, mypy over src/ (pyproject.toml).
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The documentation site into site/ (mkdocs.yml); a broken link or reference fails the build.
# `make notebooks docs` renders the notebooks as executed, outputs included.
docs: setup
	NO_MKDOCS_2_WARNING=1 CLASSICNETS_DOCS_NOTEBOOKS=$(DOCS_NOTEBOOKS) $(BIN)/mkdocs build --strict
	@echo "Documentation: site/index.html"

DOCS_NOTEBOOKS ?= $(if $(filter notebooks,$(MAKECMDGOALS)),runs/notebooks,)

# The package as users install it: sdist and wheel built, the wheel installed (not editable) with
# its extras into a fresh virtual environment outside the checkout, then run.
wheel-check: setup
	PYTHON=$(PYTHON) TORCH_SPEC="$(TORCH_SPEC)" BUILD_PYTHON=$(abspath $(BIN))/python scripts/check-wheel.sh

clean:
	rm -rf $(VENV) build dist site *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
