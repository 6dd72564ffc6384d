# The two commands: `make demo` and `make test`. Each sets itself up (virtualenv, install, migrate).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed-dev
DEMO_DB := sample_site/db.sqlite3

.PHONY: demo test lint test-services matrix bench browser-deps clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,services,browser,bench]"
	touch $(STAMP)

demo: $(STAMP)
	cd sample_site && ../$(PY) manage.py migrate --noinput
	cd sample_site && ../$(PY) manage.py seed_demo
	@echo "Serving the demo at http://127.0.0.1:8000 (Ctrl+C to stop)"
	cd sample_site && ../$(PY) manage.py runserver 127.0.0.1:8000

test: $(STAMP)
	PYTHONPATH=. $(PY) -m django makemigrations --check --dry-run --settings=tests.settings
	$(BIN)/pytest --cov --cov-report=term

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy logout_rules tests sample_site

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov build *.egg-info $(DEMO_DB)
