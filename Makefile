# Everything starts from a fresh clone with only Python 3.11 and make.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
INSTALLED := $(VENV)/.installed

DEMO_UPSTREAM_PORT ?= 8001
DEMO_PORT ?= 8000
DEMO_KEY := demo-key-not-secret
DEMO_ENV := DJANGO_DEMO=true OPENAI_BASE_URL=http://127.0.0.1:$(DEMO_UPSTREAM_PORT)/v1 OPENAI_API_KEY=$(DEMO_KEY)

.PHONY: help install demo test lint clean load run worker test-services bench screenshots

help:
	@echo "make demo   - run the dashboard against the built-in demo upstream on http://127.0.0.1:$(DEMO_PORT)"
	@echo "make test   - install what the tests need and run the whole suite, in parallel"
	@echo "make lint   - ruff check, format check and mypy (settings in pyproject.toml)"
	@echo "make load   - 2,000 requests from 20 clients against gunicorn + the demo upstream"
	@echo "make run    - serve the real API with gunicorn + WhiteNoise and a huey worker (needs OPENAI_API_KEY)"
	@echo "make worker - a huey worker alone (WORKER_ARGS=-n on every machine but one)"
	@echo "make test-services - what PostgreSQL and Redis change (tests marked services or engine) against them"
	@echo "make bench  - print the performance figures of docs/benchmarks.md"
	@echo "make screenshots - retake the README's screenshots from a running make demo"

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Reinstall whenever pyproject.toml changes.
$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,lint]'
	touch $@

install: $(INSTALLED)

# Ports are checked first: a busy one is named, with the command to pick others.
demo: install
	@$(BIN)/python -m dashboard.portcheck "make demo" DEMO_PORT=$(DEMO_PORT) DEMO_UPSTREAM_PORT=$(DEMO_UPSTREAM_PORT)
	$(DEMO_ENV) $(MANAGE) migrate --noinput -v 0
	@# --clear: WhiteNoise would serve the .gz copies an earlier `make run` left, not edited files.
	$(DEMO_ENV) $(MANAGE) collectstatic --noinput --clear -v 0
	$(DEMO_ENV) $(MANAGE) create_demo_staff
	@echo ""
	@echo "  Dashboard:  http://127.0.0.1:$(DEMO_PORT)/"
	@echo "  Log in as:  demo / demo-password   (a staff account, demo data only)"
	@echo "  Worker:     huey (run_huey) syncs the thread index; see /index/"
	@echo "  Stop with Ctrl-C."
	@echo ""
	@$(DEMO_ENV) $(MANAGE) run_demo_upstream --port $(DEMO_UPSTREAM_PORT) --api-key $(DEMO_KEY) --live & upstream=$$!; \
	$(DEMO_ENV) $(MANAGE) run_huey $(WORKER_FLAGS) & worker=$$!; \
	trap 'kill $$upstream $$worker 2>/dev/null' EXIT; trap 'exit 130' INT TERM; \
	$(DEMO_ENV) $(MANAGE) runserver 127.0.0.1:$(DEMO_PORT) --noreload

# In parallel (pytest-xdist, one worker per core): each test has its own ports, databases and
# scratch files. Prints the ten slowest tests and the wall time. PYTEST_ARGS adds options.
PYTEST_WORKERS ?= auto
PYTEST_ARGS ?=
test: install
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal --durations=10 $(PYTEST_ARGS)

# The real services CI starts (.ci/run); REQUIRE_SERVICES=1 fails, not skips, without them.
# Only what they change: tests marked `services` (they need them) and `engine` (they behave
# differently on them), one at a time, since the servers they start share one database.
SERVICES_DATABASE_URL ?= postgres://dashboard:dashboard@127.0.0.1:5432/dashboard
SERVICES_REDIS_URL ?= redis://127.0.0.1:6379/0
test-services: install
	REQUIRE_SERVICES=1 DATABASE_URL=$(SERVICES_DATABASE_URL) REDIS_URL=$(SERVICES_REDIS_URL) \
		$(BIN)/pytest -m "services or engine" --durations=10 $(PYTEST_ARGS)

# Production serving: gunicorn (gthread) with WhiteNoise's compressed, hashed static files.
# Configure with the environment (OPENAI_API_KEY, DATABASE_URL, REDIS_URL, DJANGO_*) and
# gunicorn.conf.py's GUNICORN_* variables; these two are the common ones.
# TERM stops a consumer gracefully: running tasks get 25 s to finish (a sweep that does not
# continues from its checkpoint next time).
WORKER_FLAGS := --graceful-signal TERM --shutdown-timeout 25
WORKER_ARGS ?=
GUNICORN_WORKERS ?= 2
GUNICORN_THREADS ?= 16
GUNICORN_BIND ?= 127.0.0.1:8000
RUN_ENV := DJANGO_MANIFEST_STATIC=1 GUNICORN_WORKERS=$(GUNICORN_WORKERS) GUNICORN_THREADS=$(GUNICORN_THREADS) \
	GUNICORN_BIND=$(GUNICORN_BIND)
run: install
	@$(BIN)/python -m dashboard.portcheck "make run" GUNICORN_BIND=$(GUNICORN_BIND)
	$(RUN_ENV) $(MANAGE) migrate --noinput -v 0
	$(RUN_ENV) $(MANAGE) collectstatic --noinput -v 0
	@case "$$HUEY_URL" in postgres*) $(RUN_ENV) $(MANAGE) create_huey_tables;; esac
	@$(RUN_ENV) $(MANAGE) run_huey $(WORKER_FLAGS) $(WORKER_ARGS) & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT; trap 'exit 130' INT TERM; \
	$(RUN_ENV) $(BIN)/gunicorn -c gunicorn.conf.py

# The background worker alone (huey: index syncs), for more machines than the web's. Exactly
# one consumer runs the scheduler: start every other one with WORKER_ARGS=-n.
worker: install
	@case "$$HUEY_URL" in postgres*) $(MANAGE) create_huey_tables;; esac
	$(MANAGE) run_huey $(WORKER_FLAGS) $(WORKER_ARGS)

# Figures, never pass/fail: see docs/benchmarks.md. Not part of `make test`.
screenshots: install
	$(BIN)/python docs/screenshots.py http://127.0.0.1:$(DEMO_PORT)

bench: install
	$(BIN)/python bench/page_cost.py
	$(BIN)/python bench/upstream_calls.py
	$(BIN)/python bench/status_scan.py
	$(BIN)/python bench/serving.py
	$(BIN)/python bench/demo_upstream.py
	$(BIN)/python bench/index_sync.py
	$(BIN)/python bench/index_freshness.py
	$(BIN)/python bench/attacks.py
	$(BIN)/python bench/index_pages.py

# Gunicorn and the demo upstream on loopback, a fresh SQLite file, then bench/load.py.
LOAD_PORT ?= 8010
LOAD_UPSTREAM_PORT ?= 8011
LOAD_ENV := OPENAI_BASE_URL=http://127.0.0.1:$(LOAD_UPSTREAM_PORT)/v1 OPENAI_API_KEY=$(DEMO_KEY) \
	DJANGO_DEMO=true DATABASE_URL=sqlite:///$(CURDIR)/.demo/load.sqlite3 LOG_LEVEL=WARNING
LOAD_ARGS ?= --requests 2000 --concurrency 20 --duration-cap 120

load: install
	@mkdir -p .demo && rm -f .demo/load.sqlite3
	$(LOAD_ENV) $(MANAGE) migrate --noinput -v 0
	$(LOAD_ENV) $(MANAGE) create_demo_staff
	@$(LOAD_ENV) $(MANAGE) run_demo_upstream --port $(LOAD_UPSTREAM_PORT) --api-key $(DEMO_KEY) >/dev/null & up=$$!; \
	$(LOAD_ENV) GUNICORN_BIND=127.0.0.1:$(LOAD_PORT) GUNICORN_WORKERS=4 \
		GUNICORN_ACCESS_LOG= GUNICORN_LOG_LEVEL=warning $(BIN)/gunicorn -c gunicorn.conf.py & web=$$!; \
	trap 'kill $$up $$web 2>/dev/null' EXIT INT TERM; \
	for i in $$(seq 50); do $(BIN)/python -c "import urllib.request as u; \
		u.urlopen('http://127.0.0.1:$(LOAD_PORT)/healthz', timeout=1)" 2>/dev/null && break; sleep 0.2; done; \
	$(BIN)/python bench/load.py --url http://127.0.0.1:$(LOAD_PORT) $(LOAD_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy dashboard

clean:
	rm -rf $(VENV) staticfiles test-artifacts .pytest_cache
