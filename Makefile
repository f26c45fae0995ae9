# parity — every target installs what it needs first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test fuzz lint demo bench accuracy clean system-deps

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

test: install system-deps
	$(BIN)/python -m pytest -q

# The property tests of tests/fuzz/ run long: random batches until FUZZ_SECONDS have
# passed, per target (`make test` runs them briefly and derandomized); prints the inputs
# each target tried. `make fuzz FUZZ_SECONDS=60` for a short trial.
FUZZ_SECONDS ?= 600
fuzz: install
	HYPOTHESIS_PROFILE=fuzz FUZZ_SECONDS=$(FUZZ_SECONDS) $(BIN)/python -m pytest -q -m fuzz \
		-p no:cacheprovider --timeout 0 tests/fuzz

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
