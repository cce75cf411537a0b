# musicagent: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

# Third-party Discogs clients the mock server is tested against (tests/test_thirdparty_clients.py).
NPM_DIR := .cache/npm
NPM_CLIENT := @lionralfs/discogs-client@4.1.4

.PHONY: install generate check test demo record bench lint typecheck clean thirdparty

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

generate: install  ## regenerate src/musicagent/_generated and docs/api_reference.md from spec/discogs.yaml
	$(BIN)/python -m codegen

lint: install
	$(BIN)/ruff check src tests codegen benchmarks examples tools

typecheck: install
	$(BIN)/mypy src tests/typing

check: lint typecheck  ## ruff, mypy --strict and generated-code freshness
	$(BIN)/python -m codegen --check

thirdparty:  ## npm clients for the mock's third-party test, into the git-ignored .cache/npm (skipped without npm)
	@if [ -f $(NPM_DIR)/node_modules/@lionralfs/discogs-client/package.json ]; then :; \
	elif command -v npm >/dev/null 2>&1; then \
	  npm install --prefix $(NPM_DIR) --no-audit --no-fund --no-save --silent $(NPM_CLIENT) \
	  || echo "warning: npm install $(NPM_CLIENT) failed; its test will skip"; \
	else echo "warning: npm not found; the @lionralfs/discogs-client test will skip"; fi

test: install thirdparty  ## the whole test suite, offline, with coverage of the hand-written code
	$(BIN)/python -m pytest --cov --cov-report=term --cov-fail-under=90

demo: install  ## the main job, offline: replays recorded Discogs answers
	$(BIN)/python examples/demo.py

record: install  ## re-record the cassettes against the live API (needs DISCOGS_TOKEN)
	$(BIN)/python -m tools.cassettes.record

bench: install
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov .cache
