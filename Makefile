# Two commands on a fresh machine with Python 3.11, make and git: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test lint typecheck imports browser pytest coverage reliability bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstalls whenever pyproject.toml changes (the stamp carries its checksum).
$(STAMP): pyproject.toml | $(BIN)/python
	@echo "installing livebuy and its dependencies into $(VENV) (about a minute, once) ..."
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

# `livebuy run` migrates the database before it serves.
run: $(STAMP)
	$(BIN)/livebuy run

test: lint typecheck imports browser pytest

# Browser tests drive Debian's Chromium: install it when it is missing and we may (root).
browser:
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || \
		{ DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "could not install chromium: browser tests will be skipped (or fail under CI)"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

# Four processes on the machine's two cores: most tests wait on sockets, timers and the
# databases, so four keep both cores busy (the suite takes about half the time of two); each
# process has its own PostgreSQL database and SQLite files. The longest tests start first.
pytest: $(STAMP)
	$(BIN)/pytest -n 4 --dist worksteal --durations=25

# The same tests measuring line and branch coverage (gate: 90 %). Kept out of `make test`:
# the tracer adds about 40 % to the suite's time on a 2-core machine.
coverage: $(STAMP)
	$(BIN)/pytest -n 4 --dist worksteal --cov --cov-report=term-missing:skip-covered

# The reliability catalogue's cases only (docs/reliability.md says which test proves each).
reliability: $(STAMP)
	$(BIN)/pytest -m reliability

# The figures of docs/benchmarks.md: the product next to a raw baseline doing the same work.
bench: $(STAMP)
	for db in sqlite postgres; do \
	  $(BIN)/livebuy bench flash-drop --db $$db --within 0 && \
	  $(BIN)/livebuy bench flash-drop --db $$db --within 0 --units 10000 && \
	  $(BIN)/livebuy bench flash-drop --db $$db --within 1 && \
	  $(BIN)/livebuy bench webhook --db $$db && \
	  $(BIN)/livebuy bench chat --db $$db --within 0 && \
	  $(BIN)/livebuy bench chat --db $$db --within 1 --claims 500 || exit 1; \
	done
	$(BIN)/livebuy bench local-memory --first 1000 --total 5000

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
