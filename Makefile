# Two commands do all the set-up on a fresh machine:
#   make demo   train MADE on the embedded digits data, print test NLL and bits/dim, write a run folder
#   make test   run the test suite (fast tests; `make test-slow` for the slow ones)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: setup demo test test-slow lint bench

$(BIN)/untaught: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0        # the local CPU build; never an unpinned torch
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/untaught

setup: $(BIN)/untaught

demo: setup
	$(BIN)/untaught train made --data digits --hidden 1000 --num-masks 8 --order-agnostic --ensemble 8 \
		--epochs 300 --patience 30 --max-time 1.5 --lr 2e-3 --no-progress --out runs/demo-$$(date +%Y%m%d-%H%M%S)

test: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/python -m pytest -q

test-slow: setup
	$(BIN)/python -m pytest -q -m slow

bench: setup
	$(BIN)/python bench/made_throughput.py
