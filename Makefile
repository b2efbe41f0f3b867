# Kizuna: `make run` and `make test` do all the set-up themselves.
VENV := .venv
PY := $(VENV)/bin/python
CATALOGS := $(patsubst %.po,%.mo,$(wildcard kizuna/locale/*/LC_MESSAGES/django.po))
PYTEST_ARGS ?=

.PHONY: run test lint format messages vendor-static clean help
.DEFAULT_GOAL := help

help:
	@echo "make run    - set up and start Kizuna on http://127.0.0.1:8000 (web, worker, scheduler)"
	@echo "make test   - run the whole test suite (set DATABASE_URL for PostgreSQL)"
	@echo "make lint   - ruff check and ruff format --check"

$(PY):
	@python=$$(sh scripts/find-python) || exit 1; \
	echo "Creating $(VENV) with $$python"; \
	"$$python" -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed-run
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

# Compiled with Babel so that no GNU gettext is needed on the machine.
kizuna/locale/%/LC_MESSAGES/django.mo: kizuna/locale/%/LC_MESSAGES/django.po $(VENV)/.installed-run
	$(VENV)/bin/pybabel compile --statistics -i $< -o $@

run: export KIZUNA_DEBUG ?= true
run: $(VENV)/.installed-run $(CATALOGS)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo --if-empty
	@echo "Kizuna: http://127.0.0.1:$${KIZUNA_PORT:-8000}/  console: http://127.0.0.1:$${KIZUNA_PORT:-8000}/console/"
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/honcho -f Procfile.dev start

test: export KIZUNA_DEBUG ?= true
test: $(VENV)/.installed-dev $(CATALOGS)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Needs GNU gettext (xgettext): refreshes the catalogs from the code and templates.
messages: $(VENV)/.installed-dev
	cd kizuna && ../$(PY) ../manage.py makemessages --locale ja --no-obsolete --add-location file

vendor-static:
	sh scripts/vendor-static

clean:
	rm -rf $(VENV) kizuna/locale/*/LC_MESSAGES/*.mo
