# musicagent: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

# Clients nobody here wrote, from npm, pinned by tests/thirdparty/package-lock.json: Discogs clients
# against the mock (tests/test_thirdparty_clients.py), the TypeScript MCP SDK against `musicagent mcp`
# (tests/test_mcp_typescript.py). Installed into the git-ignored .cache/npm.
NPM_DIR := .cache/npm
NPM_LOCK := tests/thirdparty/package-lock.json

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

thirdparty:  ## the npm clients of the tests, into .cache/npm (reinstalled when the lock file changes; skipped without npm)
	@if cmp -s $(NPM_LOCK) $(NPM_DIR)/installed-lock.json; then :; \
	elif command -v npm >/dev/null 2>&1; then \
	  mkdir -p $(NPM_DIR) && cp tests/thirdparty/package.json $(NPM_LOCK) $(NPM_DIR)/ \
	  && npm ci --prefix $(NPM_DIR) --no-audit --no-fund --silent \
	  && cp $(NPM_LOCK) $(NPM_DIR)/installed-lock.json \
	  || echo "warning: npm ci in $(NPM_DIR) failed; the tests of npm clients will fail"; \
	else echo "warning: npm not found; the tests of npm clients will skip"; fi

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
