# Two commands on a fresh machine: `make run` serves the API, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The suite runs under gevent's monkey-patching, as gunicorn's gevent worker does.
PYTEST := $(BIN)/python -m gevent.monkey --module pytest

.PHONY: run test lint typecheck check clean lock lock-check

# The locks are compiled from PyPI alone, whatever pip configuration this machine has,
# so they read the same everywhere. Pins already in a lock are kept: `make lock` after an
# edit of a .in file changes only what the edit needs; UPGRADE=--upgrade bumps everything.
PIP_COMPILE := env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="make lock" \
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links --index-url https://pypi.org/simple $(UPGRADE)

# The dev lock holds the runtime lock's pins too; with hashes in it pip checks every file.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.txt
	touch $(STAMP)

lock: $(STAMP)
	$(PIP_COMPILE) --output-file requirements.txt requirements.in
	$(PIP_COMPILE) --output-file requirements-dev.txt requirements-dev.in

# Fails when a .in file says something the locks do not (CI runs it).
lock-check: $(STAMP)
	@tmp=$$(mktemp -d) && cp requirements.txt requirements-dev.txt $$tmp/ && \
	$(PIP_COMPILE) --output-file $$tmp/requirements.txt requirements.in && \
	$(PIP_COMPILE) --output-file $$tmp/requirements-dev.txt requirements-dev.in && \
	diff -u requirements.txt $$tmp/requirements.txt && \
	diff -u requirements-dev.txt $$tmp/requirements-dev.txt && echo "the lock is up to date" || \
	{ echo "FAIL: requirements*.txt are out of date with requirements*.in: run make lock" >&2; exit 1; }

# Without Redis a kept reply lives in the worker that made it, so a resume works with one
# worker only: `make run` serves one unless REDIS_URL or WEB_CONCURRENCY says otherwise.
RUN_WORKERS := $(or $(WEB_CONCURRENCY),$(if $(REDIS_URL),2,1))

run: $(STAMP)
	mkdir -p instance
	$(BIN)/flask --app wsgi db upgrade
	WEB_CONCURRENCY=$(RUN_WORKERS) $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

test: $(STAMP)
	$(PYTEST) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy clarity_api

check: lint typecheck test

clean:
	rm -rf $(VENV) instance
