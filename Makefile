# wa-warehouse: every target bootstraps what it needs from python3 and make alone.
#   make run    set up, generate the sample extracts if data/extracts is empty, run the pipeline
#   make test   set up and run every test (unit, integration, e2e)
#   make test-fast  unit + integration tests only, none that starts Spark (7 to 9 minutes)
#   make lint   ruff check + format check, sqlfluff over the dbt models and tests
#   make dev    the Dagster UI on 127.0.0.1:$(DAGSTER_PORT), on the instance CLI runs record
#               into (DAGSTER_HOME, default data/dagster beside the warehouse)
#   make bench  the benchmark: full build, no-op, daily run and memory against a
#               single-pass DuckDB query (BENCH_FLAGS to pick scenarios and sizes);
#               BENCH_ENGINE=spark: DuckDB and Spark local[2] side by side at 1M dispatches
#   make dashboard  the campaign analytics dashboard on 127.0.0.1:$(DASHBOARD_PORT), over
#               the published marts (WA_SERVING_PATH, default data/serving.duckdb)

PYTHON ?= python3
UV_VERSION ?= 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
EXTRACTS ?= data/extracts
DAGSTER_PORT ?= 3000
DASHBOARD_PORT ?= 8050
BENCH_FLAGS ?=
BENCH_ENGINE ?= duckdb
SQLFLUFF_PROCESSES ?= 2

export UV_PYTHON_DOWNLOADS := never

.PHONY: setup run test test-fast lint format dev bench dashboard clean

setup: $(VENV)/.synced

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# --compile-bytecode: these machines and CI set PYTHONDONTWRITEBYTECODE=1, so
# without .pyc files every process (each dbt invocation, each import of the
# Dagster definitions) recompiles ~1,200 modules: ~2 s each. The Makefile is a
# prerequisite so that an existing .venv gets compiled too.
$(VENV)/.synced: pyproject.toml uv.lock Makefile $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	$(BIN)/wa-warehouse prepare
	@touch $@

run: setup
	@if [ -z "$$(ls -A $(EXTRACTS) 2>/dev/null)" ]; then \
		$(BIN)/wa-warehouse generate --out $(EXTRACTS); \
	fi
	$(BIN)/wa-warehouse run --extracts $(EXTRACTS)

test: setup
	$(BIN)/pytest

test-fast: setup
	$(BIN)/pytest tests/unit tests/integration -m "not spark"

# sqlfluff (.sqlfluff) renders the models and the singular tests through dbt.
# Not macros/: the dbt templater skips macro files, which render to nothing;
# what a macro expands to is parsed within the models that call it, not
# style-checked. WA_WAREHOUSE_PATH points the profile at an in-memory
# database, so a lint never opens, creates or locks a warehouse file.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	WA_WAREHOUSE_PATH=:memory: $(BIN)/sqlfluff lint models tests/dbt --processes $(SQLFLUFF_PROCESSES)

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

dev: setup
	$(BIN)/wa-warehouse dev --port $(DAGSTER_PORT)

bench: setup
ifeq ($(BENCH_ENGINE),spark)
	$(BIN)/wa-warehouse bench --only spark $(BENCH_FLAGS)
else
	$(BIN)/wa-warehouse bench $(BENCH_FLAGS)
endif

dashboard: setup
	$(BIN)/wa-warehouse dashboard --port $(DASHBOARD_PORT)

clean:
	rm -rf $(VENV) $(TOOLS) target logs
