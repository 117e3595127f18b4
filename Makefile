# vein2vein: `make demo` to run it, `make test` to prove it.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
export VEIN2VEIN_DATA_DIR ?= $(CURDIR)/var

.PHONY: demo test test-sqlite test-postgres bench lint format migrations clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/vein2vein migrate --noinput
	$(BIN)/vein2vein demo
	$(BIN)/vein2vein serve

test: $(STAMP)
	bash scripts/test.sh

test-sqlite: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadgroup

test-postgres: $(STAMP)
	DATABASE_URL=$(PG_URL) $(BIN)/pytest -n 2 --dist loadgroup

bench: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy $$(scripts/mypy-targets.sh)

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

migrations: $(STAMP)
	$(BIN)/vein2vein makemigrations core web

clean:
	rm -rf $(VENV) var .pytest_cache
