# tracework: `make demo` runs the example project end to end; `make test` runs the checks and
# the test suite.
# Both create a local virtual environment (.venv) and install what they need into it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.DEFAULT_GOAL := test
.PHONY: demo test check bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	touch $@

# Ultralytics and Datumaro without their own requirements (pyproject.toml's test extra says
# why, and lists what they need).
$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[test]'
	$(PIP) install --no-deps 'ultralytics==8.4.190' 'ultralytics-thop==2.2.3' 'datumaro==1.13.12'
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed
	$(BIN)/tracework demo demo-out

test: check
	$(BIN)/python -m pytest -n 2 -q

# mypy --strict and ruff, configured in pyproject.toml; zero findings is the bar.
check: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python tools/check_layout.py src

bench: $(VENV)/.installed-test
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) demo-out .pytest_cache .hypothesis
