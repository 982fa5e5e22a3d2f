# Anshin — `make run` serves on 127.0.0.1:50051; `make test` runs the whole suite.
# Both create the virtualenv (.venv) and install exactly requirements.lock on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LISTEN ?= 127.0.0.1:50051
DB_FILE ?= var/anshin.db
DB     ?= sqlite:///$(DB_FILE)
# The locker is in the lock itself (dev); `make lock` bootstraps this version
# only into a venv made without it. Installing needs nothing but pip, which
# every venv has.
UV_VERSION := 0.13.9

.PHONY: run test lint typecheck unit browser proto lock bench clean

# The venv is rebuilt from scratch whenever the lock or pyproject changes, so it
# holds the lock and nothing else. --require-hashes: every file pip fetches must
# be the one that was locked; --no-deps: the lock is the whole closure, nothing
# is resolved at install time. The project itself goes in editable, built with
# the locked setuptools (no build isolation, so no unlocked download).
$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ required"'
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@# The lock must satisfy what pyproject declares (a dependency added to
	@# pyproject without `make lock` fails here, not at first import).
	$(BIN)/python -m pip check
	@touch $(STAMP)

# First run: create the database (its keys are made beside it when the server
# first opens it); later runs reuse both. `serve` itself never creates a
# database, so a mistyped --db cannot start an empty log.
run: $(STAMP)
	@test -f $(DB_FILE) || $(BIN)/anshin db migrate --create --db $(DB)
	$(BIN)/anshin serve --listen $(LISTEN) --db $(DB)

test: $(STAMP) lint typecheck unit

lint: $(STAMP)
	$(BIN)/python -m server.protogen --check
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy checks rules timing server

unit: $(STAMP) browser
	$(BIN)/pytest

# The console's end-to-end tests drive Debian's Chromium through Playwright's
# executable_path (a test tool's download of its own browser cannot work on
# these machines), with a Japanese font so the pages and screenshots show
# Japanese; installed here when missing (sudo when not root).
BROWSER_PACKAGES := chromium chromium-driver fonts-ipafont-gothic
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] \
	    || [ ! -f /usr/share/fonts/opentype/ipafont-gothic/ipag.ttf ]; then \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES); \
	fi

proto: $(STAMP)
	$(BIN)/python -m server.protogen

# Refresh the lock deliberately: newest versions that pyproject.toml allows, for
# every Python and platform pyproject supports (universal), with the hash of every
# file. The build requirements (setuptools, wheel) are locked too.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	printf 'setuptools>=69\nwheel>=0.43\n' | $(BIN)/uv pip compile pyproject.toml - \
	    --extra dev --universal --python-version 3.11 --generate-hashes \
	    --custom-compile-command "make lock" --upgrade --quiet -o requirements.lock

bench: $(STAMP)
	$(BIN)/python bench/checklogin.py
	$(BIN)/python bench/checklogin_floor.py
	$(BIN)/python bench/checklogin_handler.py
	$(BIN)/python bench/ua_parse.py
	$(BIN)/python bench/events.py
	$(BIN)/python bench/claims.py
	$(BIN)/python bench/scaleout.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
