# Everything starts from a fresh clone with only Python 3.11 and make.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
INSTALLED := $(VENV)/.installed

DEMO_UPSTREAM_PORT ?= 8001
DEMO_PORT ?= 8000
DEMO_KEY := demo-key-not-secret
DEMO_ENV := OPENAI_BASE_URL=http://127.0.0.1:$(DEMO_UPSTREAM_PORT)/v1 OPENAI_API_KEY=$(DEMO_KEY)

.PHONY: help install demo test lint clean

help:
	@echo "make demo   - run the dashboard against the built-in demo upstream on http://127.0.0.1:$(DEMO_PORT)"
	@echo "make test   - install what the tests need and run the whole suite"
	@echo "make lint   - ruff check and format check"

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Reinstall whenever pyproject.toml changes.
$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(INSTALLED)

demo: install
	$(DEMO_ENV) $(MANAGE) migrate --noinput -v 0
	$(DEMO_ENV) $(MANAGE) collectstatic --noinput -v 0
	$(DEMO_ENV) $(MANAGE) create_demo_staff
	@echo ""
	@echo "  Dashboard:  http://127.0.0.1:$(DEMO_PORT)/"
	@echo "  Log in as:  demo / demo-password   (a staff account, demo data only)"
	@echo "  Stop with Ctrl-C."
	@echo ""
	@trap 'kill 0' EXIT INT TERM; \
	$(MANAGE) run_demo_upstream --port $(DEMO_UPSTREAM_PORT) --api-key $(DEMO_KEY) & \
	$(DEMO_ENV) $(MANAGE) runserver 127.0.0.1:$(DEMO_PORT) --noreload

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) staticfiles test-artifacts .pytest_cache
