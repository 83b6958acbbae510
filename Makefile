# The two set-up commands: `make run` and `make test`. Everything else is a helper of theirs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
HOST   ?= 127.0.0.1
PORT   ?= 8000
FAKE_QBO_PORT ?= 8765
FAKE_QBO := http://127.0.0.1:$(FAKE_QBO_PORT)
DEMO_QBO := QBO_AUTHORIZE_URL=$(FAKE_QBO)/oauth2/authorize QBO_TOKEN_URL=$(FAKE_QBO)/oauth2/v1/tokens/bearer \
            QBO_API_BASE_URL=$(FAKE_QBO) INTEGRATIONS_RATE_LIMITS=0

# The test suite always runs against PostgreSQL and Redis on this machine.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/closebooks
TEST_REDIS_URL    ?= redis://127.0.0.1:6379/0
# Both cores; one test file per worker, so a file's worker and fake-vendor fixtures stay together.
PYTEST_ARGS       ?= -n 2 --dist loadfile

.PHONY: run test lint services chromium install install-test migrate clean prod load

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PIP) install -q -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# Embedded default: SQLite, Celery tasks in-process. Unset the service URLs so a shell that
# has them exported still gets the documented demo.
# The demo company is connected to a fake QuickBooks Online started beside the app (port FAKE_QBO_PORT,
# quotas off so a whole-year sync finishes while you watch; tasks run in-process here).
run: install
	env -u DATABASE_URL -u REDIS_URL $(PY) manage.py migrate --noinput
	env -u DATABASE_URL -u REDIS_URL $(PY) manage.py seed_demo
	env -u DATABASE_URL -u REDIS_URL $(PY) manage.py seed_demo_close
	@env -u DATABASE_URL -u REDIS_URL $(PY) manage.py run_fake_vendor --provider qbo --port $(FAKE_QBO_PORT) --limits off & \
	FAKE=$$!; trap 'kill $$FAKE 2>/dev/null' EXIT INT TERM; \
	env -u DATABASE_URL -u REDIS_URL $(DEMO_QBO) $(PY) manage.py demo_connect --redirect-uri http://$(HOST):$(PORT)/integrations/callback/qbo/ && \
	env -u DATABASE_URL -u REDIS_URL $(DEMO_QBO) $(PY) manage.py runserver $(HOST):$(PORT)

services:
	@bash scripts/services.sh

chromium:
	@bash scripts/chromium.sh

lint: install-test
	$(VENV)/bin/ruff check .

test: install-test services chromium lint
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) manage.py makemigrations --check --dry-run
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest $(PYTEST_ARGS)

# The production stack on this machine (scripts/prod.sh, docs/production.md); SMOKE=1: smoke-test it and stop.
prod: install
	SMOKE=$(SMOKE) PY=$(PY) bash scripts/prod.sh

$(VENV)/.installed-load: pyproject.toml | $(PY)
	$(PIP) install -q -e '.[load]'
	touch $@ $(VENV)/.installed

# 50 users for 60 s against `make prod`'s stack on a company with a million journal lines (scripts/load.sh).
load: install $(VENV)/.installed-load
	PY=$(PY) bash scripts/load.sh

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles test-artifacts
