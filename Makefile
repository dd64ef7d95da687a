# chargepoints — every target works on a fresh machine with only Python 3.11 and pip.
# Used by CI: `make test` (see .ci/run).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

# The bundled sample: a simulated fleet's landing area and a registry of part of the known stations.
SAMPLE_DIR  := data/sample
SAMPLE_DATE ?= $(shell cat $(SAMPLE_DIR)/LAST_DATE 2>/dev/null)

# Prefect runs locally and offline: its own home inside the project, no telemetry.
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: setup browser run test test-fast lint format bench sample quality serve serve-stop view clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)  ## the virtual environment only

# The viewer test drives headless Chromium (Debian's package). Installed when missing and we may;
# without it that one test is skipped with its reason.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } ; } || \
	  echo "chromium not installed: the viewer screenshot test will be skipped"

run: setup  ## run the daily pipeline on the bundled sample, publishing under data/publish
	$(BIN)/chargepoints run --date $(SAMPLE_DATE) \
	    --landing $(SAMPLE_DIR)/landing --lake data/lake --publish data/publish \
	    --registry $(SAMPLE_DIR)/registry.csv
	@echo "published: data/publish/$(SAMPLE_DATE)/ (latest.json -> $$(cat data/publish/latest.json))"

test: setup browser  ## the whole suite, slow and integration tests included
	$(BIN)/python -m pytest -q

test-fast: setup  ## unit tests only
	$(BIN)/python -m pytest -q -m "not slow and not integration"

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: setup  ## throughput and peak memory per stage, next to the naive baseline
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.bench_publish --markdown

serve: setup  ## local Prefect server + process worker + deployments from prefect.yaml
	bash scripts/serve.sh

sample: setup  ## regenerate the bundled sample (deterministic: same bytes)
	$(BIN)/chargepoints simulate --out $(SAMPLE_DIR) --vehicles 400 --days 21 --seed 7

quality: setup  ## the discovery-quality report: pipeline vs naive baseline, two seeds, two fleet sizes and a 120-day fleet
	$(BIN)/python -m pipelines.sim.quality --work /tmp/chargepoints-quality --out docs/quality.md --json docs/quality.json

serve-stop:  ## stop what `make serve` started
	bash scripts/serve.sh stop

view: setup  ## the latest published nav bundle on a map (MapLibre GL + PMTiles, offline)
	$(BIN)/chargepoints view --publish data/publish

clean:
	rm -rf data/lake data/publish .prefect .pytest_cache
