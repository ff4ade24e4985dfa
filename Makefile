# changemgmt — the two commands a new machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The gateway client package (its own pyproject, no Django), installed into the same venv.
CLIENT := clients/python
DEMO_PASSWORD ?= changemgmt-demo
# Where `make run` serves: honcho hands PORT to the first Procfile line (web); the reference
# gateway is told the same port through CHANGEMGMT_URL (honcho gives each line its own PORT).
HOST ?= 127.0.0.1
PORT ?= 8000
export DEMO_PASSWORD HOST PORT

.PHONY: install run test test-fast bench bench-peers lint format migrate seed clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt $(CLIENT)/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -c constraints.txt -e '.[dev]' -e './$(CLIENT)[dev]'
	touch $@

migrate: install
	mkdir -p var
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

run: seed
	$(PY) manage.py audit_checkpoint --create-key
	@echo ""
	@echo "  changemgmt is starting on http://$(HOST):$(PORT)"
	@echo "  Log in as any role (author, release_manager, cab_platform, …, auditor) or admin,"
	@echo "  password: $(DEMO_PASSWORD)   ·   Ctrl-C stops web, worker and beat."
	@echo ""
	CHANGEMGMT_URL=http://127.0.0.1:$(PORT) REFERENCE_GATEWAY_URL=http://127.0.0.1:8100 $(VENV)/bin/honcho start -f Procfile --port $(PORT)

test: install
	$(VENV)/bin/pytest -q
	cd $(CLIENT) && ../../$(VENV)/bin/pytest -q

bench: install
	$(PY) benchmarks/run.py

# Our gateway poll against Unleash (npm, into var/peers/) and a bare WSGI "ok": needs wrk and npm.
bench-peers: install
	$(PY) benchmarks/peers.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf var staticfiles
