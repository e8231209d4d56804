# Two commands do everything on a fresh machine with Python 3.11+ and make:
#   make demo   - install, start the embedded PostgreSQL, run the daily DAG once, print the CAC mart
#   make test   - install, run the whole test suite (real PostgreSQL, dbt, GX and Airflow)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test airflow lint docs clean

# The virtualenv is rebuilt only when the lock file or the package metadata changes.
$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "tealeaves needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/tealeaves demo

test: install
	$(BIN)/python -m pytest

airflow: install
	$(BIN)/tealeaves airflow up

lint: install
	$(BIN)/ruff check include dags plugins expectations tests bench
	$(BIN)/ruff format --check include dags plugins expectations tests bench

clean:
	-$(BIN)/tealeaves db stop
	rm -rf .tealeaves dbt_project/target dbt_project/logs
