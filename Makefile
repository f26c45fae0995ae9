# parity — every target installs what it needs first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint demo bench accuracy clean system-deps

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

test: install system-deps
	$(BIN)/python -m pytest -q

# tmux drives the interactive `parity triage` test; without it that test is skipped.
system-deps:
	@command -v tmux >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& (apt-get update -qq && apt-get install -y -qq tmux >/dev/null) ; } \
		|| echo "note: tmux is not installed; the terminal test of parity triage will be skipped"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m tools.typecheck

demo: install
	$(BIN)/python -m examples.demo

bench: install
	$(BIN)/python bench/run.py

# Real third-party API pairs (ACCURACY.md); installs their servers under .accuracy/.
# ACCURACY_ARGS="--pair kinto --write-md" to choose pairs or rewrite ACCURACY.md.
accuracy: install
	$(BIN)/python -m accuracy.run $(ACCURACY_ARGS)

clean:
	rm -rf $(VENV) .parity .mypy_cache .ruff_cache .pytest_cache .typecheck
