# Squall — the two commands a fresh clone needs: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CONFIG ?= config.example.yaml

.PHONY: run test lint typecheck unit bench clean oracle mongo sshd st2client chromium

# Orquesta 1.2.0 (the conformance oracle) imports only on Python <= 3.8; tests skip without it.
ORACLE_PYTHON ?= $(shell for p in $(wildcard $(HOME)/.pyenv/versions/3.8*/bin/python3.8) python3.8; do \
  $$p -c 'import sys; assert sys.version_info[:2] == (3, 8)' 2>/dev/null && { echo $$p; break; }; done)

$(BIN)/python:
	@echo "squall: creating the virtualenv $(VENV) (first run only)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "squall: installing Squall and its dependencies into $(VENV) with pip (about 30 s, once)..."
	$(BIN)/pip install -q -e .
	@echo "squall: installed"
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	@echo "squall: installing Squall with its test tools into $(VENV) with pip (about a minute, once)..."
	$(BIN)/pip install -q -e '.[dev,errbot]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/squall serve --config $(CONFIG)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

# Two workers (pytest-xdist): the process-heavy modules (tests/conftest.py) take turns on one,
# everything else runs beside them. PYTEST_ARGS adds options, e.g. PYTEST_ARGS="-n 0 -x".
PYTEST_ARGS ?=
unit: $(VENV)/.installed-dev mongo sshd chromium
	$(BIN)/pytest -q -n 2 --dist loadgroup $(PYTEST_ARGS)

test: lint typecheck oracle mongo sshd st2client chromium unit

# SecantusDB, a MongoDB wire-protocol server (test-only, GPL-2.0: never a Squall dependency), in
# its own venv; the test session starts one in-memory server (tests/mongo_server.py).
mongo: .venv-mongo/.installed

.venv-mongo/.installed:
	$(PYTHON) -m venv .venv-mongo
	.venv-mongo/bin/pip install -q 'secantusdb==0.7.0b3'
	touch $@

# The remote-runner tests start a real OpenSSH server (tests/sshd.py): Debian's openssh-server
# and sudo, installed when missing (as root, as in CI; apt-get update only then).
sshd:
	@if ! PATH="$$PATH:/usr/sbin:/sbin" command -v sshd >/dev/null || ! command -v sudo >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssh-server sudo; \
	  else echo "warning: install openssh-server and sudo (as root); the remote-runner tests need them"; fi; \
	fi

# The web console's browser tests (tests/browser) drive Debian's Chromium with Playwright for
# Python (a dev dependency); Playwright's own browser download is never used. Installed when
# missing (as root, as in CI; apt-get update only then).
chromium:
	@if ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else echo "warning: install chromium (as root); the web console's browser tests need it"; fi; \
	fi

oracle: .venv-oracle/.installed

.venv-oracle/.installed:
	@if [ -n "$(ORACLE_PYTHON)" ]; then \
	  $(ORACLE_PYTHON) -m venv .venv-oracle && \
	  .venv-oracle/bin/pip install -q 'orquesta==1.2.0' && touch $@ \
	  || echo "warning: could not build the Orquesta oracle; conformance tests will skip"; \
	else echo "note: no Python 3.8 found; the Orquesta conformance tests will skip"; fi

# The real `st2` CLI for the REST API tests; its own venv (st2client pins libraries Squall must
# not share), and schemathesis in another (it pins a newer jsonschema than st2client).
st2client: .venv-st2/.installed .venv-schemathesis/.installed

.venv-st2/.installed:
	$(PYTHON) -m venv .venv-st2
	.venv-st2/bin/pip install -q 'st2client==3.9.0'
	touch $@

.venv-schemathesis/.installed:
	$(PYTHON) -m venv .venv-schemathesis
	.venv-schemathesis/bin/pip install -q 'schemathesis==4.32.5'
	touch $@

bench: $(VENV)/.installed oracle st2client
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .venv-oracle .venv-mongo .venv-st2 .venv-schemathesis var/ .pytest_cache .mypy_cache .ruff_cache
