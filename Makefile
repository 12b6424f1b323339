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

# axe-core, the accessibility checker tests/test_web_axe.py runs in Chromium on every page,
# from npm into .venv/node (without npm, that test skips and says why).
AXE := $(VENV)/node/node_modules/axe-core/axe.min.js

$(AXE): | $(BIN)/python
	if command -v npm >/dev/null; then \
	  npm install --prefix $(VENV)/node --no-audit --no-fund --loglevel=error 'axe-core@4'; \
	else echo "npm not found: tests/test_web_axe.py will skip"; fi

# Ultralytics and Datumaro without their own requirements (pyproject.toml's test extra says
# why, and lists what they need).
$(VENV)/.installed-test: pyproject.toml | $(BIN)/python $(AXE)
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
