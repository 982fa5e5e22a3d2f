# Anshin — `make run` serves on 127.0.0.1:50051; `make test` runs the whole suite.
# Both create the virtualenv (.venv) and install everything on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LISTEN ?= 127.0.0.1:50051
DB     ?= sqlite:///var/anshin.db

.PHONY: run test lint typecheck unit proto bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/anshin serve --listen $(LISTEN) --db $(DB)

test: $(STAMP) lint typecheck unit

lint: $(STAMP)
	$(BIN)/python -m server.protogen --check
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy checks rules server

unit: $(STAMP)
	$(BIN)/pytest

proto: $(STAMP)
	$(BIN)/python -m server.protogen

bench: $(STAMP)
	$(BIN)/python bench/checklogin.py
	$(BIN)/python bench/checklogin_floor.py
	$(BIN)/python bench/checklogin_handler.py
	$(BIN)/python bench/ua_parse.py
	$(BIN)/python bench/events.py
	$(BIN)/python bench/claims.py
	$(BIN)/python bench/scaleout.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
