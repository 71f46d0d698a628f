# Two commands on a fresh machine: `make run` serves the API, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The suite runs under gevent's monkey-patching, as gunicorn's gevent worker does.
PYTEST := $(BIN)/python -m gevent.monkey --module pytest

.PHONY: run test lint typecheck check clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	mkdir -p instance
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

test: $(STAMP)
	$(PYTEST) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy clarity_api

check: lint typecheck test

clean:
	rm -rf $(VENV) instance
