# Every target works as the first command on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench chaos clean-data

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: the whole stack (embedded PostgreSQL, Temporal dev server + UI, worker) until Ctrl-C
run: $(STAMP)
	$(BIN)/hotline dev

## test: every test, with servers of their own on free ports
test: $(STAMP)
	$(BIN)/python -m pytest

## lint: ruff and mypy, as CI's reviewers would run them
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy domain workflows activities workers starter bench

## bench: every benchmark, one table, written to docs/performance.md (not part of make test; ARGS=--quick to try it)
bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

## chaos: R1-R4, the stack under faults, each with its verdict (not part of make test; ARGS=--quick to try it)
chaos: $(STAMP)
	$(BIN)/python -m bench.chaos $(ARGS)

clean-data:
	rm -rf .data
