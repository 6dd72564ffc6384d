# The two commands: `make demo` and `make test`. Each sets itself up (virtualenv, install, migrate).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed-dev
DEMO_DB := sample_site/db.sqlite3

.PHONY: demo test lint test-services matrix package-check loadtest bench clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,services,browser,bench,package]"
	touch $(STAMP)

demo: $(STAMP)
	cd sample_site && ../$(PY) manage.py migrate --noinput
	cd sample_site && ../$(PY) manage.py seed_demo
	cd sample_site && ../$(PY) manage.py logout_rules import rules.json --user admin
	@echo "Serving the demo at http://127.0.0.1:8000 (Ctrl+C to stop)"
	cd sample_site && ../$(PY) manage.py runserver 127.0.0.1:8000

# The suite runs in two parts that together are all of it: the tests that only compute, in
# PYTEST_WORKERS parallel processes (pytest-xdist: CI has 2 cores), then one at a time those that
# drive a browser or start servers (they wait on real time and must not be starved of CPU).
PYTEST_WORKERS ?= 2
PARALLEL := -n $(PYTEST_WORKERS) -m "not browser and not multiprocess"
SERIAL := -m "browser or multiprocess"

test: $(STAMP)
	PYTHONPATH=. $(PY) -m django makemigrations --check --dry-run --settings=tests.settings
	$(BIN)/pytest $(PARALLEL) --cov --cov-report=
	$(BIN)/pytest $(SERIAL) --cov --cov-append --cov-report=term

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy logout_rules tests sample_site bench noxfile.py

# The whole suite on PostgreSQL + Redis (tests/settings.py reads these variables); fails at once,
# with a clear message, when a service cannot be reached.
SERVICES_ENV := LOGOUT_RULES_TEST_DB=postgresql LOGOUT_RULES_TEST_CACHE=redis

test-services: $(STAMP)
	$(PY) -m tests.services.precheck
	$(SERVICES_ENV) $(BIN)/pytest -p no:cacheprovider $(PARALLEL)
	$(SERVICES_ENV) $(BIN)/pytest -p no:cacheprovider $(SERIAL)

# The version matrix (noxfile.py): Python 3.10 + Django 5.2, 3.12 + 6.0 and 3.13 + 6.1 (the whole
# suite, browser and multiprocess included, on the services), on pyenv's interpreters. -R reuses the
# virtualenvs between local runs.
matrix: $(STAMP)
	$(PY) -m tests.services.precheck
	$(BIN)/nox -R

# The package as users get it (noxfile.py, session "package"): build the sdist and the wheel, twine
# check, install the wheel next to Django 6.1 in a fresh virtualenv, try the sample site and the
# README's Installation and Migrating steps against that installed copy.
package-check: $(STAMP)
	$(BIN)/nox -s package

# A bounded load test against gunicorn + PostgreSQL + Redis on 127.0.0.1 (bench/loadtest.py).
loadtest: $(STAMP)
	$(PY) -m tests.services.precheck
	$(PY) bench/loadtest.py

# The side-by-side benchmark (bench/run.py, a couple of minutes; BENCH_ARGS=--quick for a short run).
bench: $(STAMP)
	PYTHONPATH=. $(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .nox .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov build *.egg-info $(DEMO_DB) sample_site/.cache
