# Two commands do everything on a fresh machine with Python 3.11+ and make:
#   make demo   - install, start the embedded PostgreSQL, run the daily DAG once, print the CAC mart
#   make test   - install, lint, run the whole test suite (real PostgreSQL, dbt, GX, Airflow, Superset, Chromium)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# sqlfluff pins click<8.5, Airflow needs newer: the SQL linter gets a virtualenv of its own.
LINT_VENV := .venv-lint
LINT_STAMP := $(LINT_VENV)/.installed-stamp
# Apache Superset pins SQLAlchemy 1.4 and its own Flask stack: the BI tool gets a virtualenv of its own too.
BI_VENV := .venv-bi
BI_STAMP := $(BI_VENV)/.installed-stamp

.PHONY: install demo test airflow bi bi-install test-bi lint lint-python lint-sql browser docs clean

# The virtualenv is rebuilt only when the lock file or the package metadata changes.
# --no-compile: pip compiles one module at a time (14,427 files for .venv: 91 s instead of 65 s on 2 cores).
# COMPILE then byte-compiles the virtualenv on both cores (about 19 s for .venv). Python's own compiling on first
# import is not enough: where PYTHONDONTWRITEBYTECODE is set, as some machines set it, it keeps nothing,
# and every process that imports Airflow, dbt and GX compiled them again (12.6 s instead of 7.3 s per import; the
# test suite starts hundreds of such processes). As with pip's compile, a module that does not compile is skipped
# (aenum ships a Python 2 file that nothing imports); -qq keeps its error off the output.
PIP_INSTALL = python -m pip install --quiet --disable-pip-version-check --no-compile
COMPILE = python -m compileall -qq -j 0
$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "tealeaves needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/$(PIP_INSTALL) -r requirements.lock
	$(BIN)/$(PIP_INSTALL) --no-deps -e .
	@$(BIN)/$(COMPILE) $(VENV)/lib || true
	@touch $(STAMP)

install: $(STAMP)

$(LINT_STAMP): requirements-lint.lock
	@test -x $(LINT_VENV)/bin/python || $(PYTHON) -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/$(PIP_INSTALL) -r requirements-lint.lock
	@$(LINT_VENV)/bin/$(COMPILE) $(LINT_VENV)/lib || true
	@touch $(LINT_STAMP)

$(BI_STAMP): requirements-bi.lock
	@test -x $(BI_VENV)/bin/python || $(PYTHON) -m venv $(BI_VENV)
	$(BI_VENV)/bin/$(PIP_INSTALL) -r requirements-bi.lock
	$(BI_VENV)/bin/python -m pip check
	@$(BI_VENV)/bin/$(COMPILE) $(BI_VENV)/lib || true
	@touch $(BI_STAMP)

bi-install: $(BI_STAMP)

demo: install
	$(BIN)/tealeaves demo

# CI runs `make test` only, so it runs everything: the lint and every test, the Superset ones too (-m overrides
# pyproject's `not bi`); a style error fails the build as a failing test does. pip uses one core, so the three
# virtualenvs and Chromium install side by side. The lint (about 70 s, sqlfluff on both cores) then runs beside the
# tests, which leave about a tenth of the two cores idle (more once one process is left with the last file); its
# output, held until the tests end, follows theirs (an interrupted make test stops it too).
test:
	@$(MAKE) --no-print-directory -j4 --output-sync=target install bi-install $(LINT_STAMP) browser
	@linted=$$(mktemp); trap 'kill $$lint 2>/dev/null; rm -f "$$linted"' EXIT; trap 'exit 130' INT TERM; \
	$(MAKE) --no-print-directory lint > "$$linted" 2>&1 & lint=$$!; \
	$(BIN)/python -m pytest -m 'bi or not bi'; tests=$$?; \
	wait $$lint; lint_status=$$?; cat "$$linted"; \
	if [ $$lint_status -ne 0 ]; then echo "make lint failed (above)" >&2; exit 1; fi; exit $$tests

airflow: install
	$(BIN)/tealeaves airflow up

# Superset on 127.0.0.1:$${TEALEAVES_BI_PORT:-8088} with the dashboards of bi/superset/ (docs/bi.md).
bi: install bi-install
	$(BIN)/tealeaves bi up

# The Superset tests alone (make test runs them too); they need .venv-bi (about 800 MB, two to three minutes to install).
test-bi: install bi-install browser
	$(BIN)/python -m pytest -n 0 -m bi tests/integration/test_bi_superset.py

lint: lint-python lint-sql

lint-python: install
	$(BIN)/ruff check include dags plugins expectations tests bench tools
	$(BIN)/ruff format --check include dags plugins expectations tests bench tools

# sqlfluff with the dbt templater on dbt_project/models (dbt_project/.sqlfluff); see tools/lint_sql.py
lint-sql: install $(LINT_STAMP)
	$(BIN)/python tools/lint_sql.py

# Debian's Chromium, for the tests of what people look at (reports, Data Docs, dashboards; tests/browser.py).
# Installed once from Debian's packages when it is missing; CHROMIUM names another build instead.
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || tools/install_chromium.sh

clean:
	-$(BIN)/tealeaves db stop
	rm -rf .tealeaves dbt_project/target dbt_project/logs $(LINT_VENV) $(BI_VENV)
