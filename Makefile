# digitlab: `make app` opens the drawing app, `make run` trains the default preset end to end,
# `make test` runs the tests, `make lint` checks style (ruff).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PRESET ?= seed1
PORT   ?= 8501
# pytest-xdist workers for make test: one per core of a 2-core machine (each gets its share of threads)
TEST_WORKERS ?= 2

.PHONY: help install app serve bench data run results train evaluate test test-all lint format clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	# torch first and pinned: the CPU build; anything unpinned would pull CUDA wheels
	$(BIN)/pip install -q -c constraints.txt torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

install: $(STAMP)  ## create .venv and install digitlab with everything it needs

app: $(STAMP)  ## main command: the drawing app on http://127.0.0.1:$(PORT) with the shipped model
	$(BIN)/digitlab app --port $(PORT)

serve: $(STAMP)  ## the REST API and live drawing page on http://127.0.0.1:8000 (2 workers, ONNX)
	$(BIN)/digitlab serve --workers 2

bench: $(STAMP)  ## measure training, inference, API and page speed on this machine (about 3 min)
	$(BIN)/digitlab bench

data: $(STAMP)  ## fetch MNIST into the cache (offline afterwards)
	$(BIN)/digitlab data fetch

run: data  ## main job: fetch MNIST, train the default preset, write its report
	$(BIN)/digitlab train --preset $(PRESET)
	$(BIN)/digitlab evaluate "$$(ls -t runs/*/best.pt | head -1)"  # the run just made

# The runs behind results/README.md; each line is one row there. Hours on a CPU:
# about 95 min per seed1 run and 60 min per onecycle run on 2 cores. A run folder
# that exists is not trained again (resume an interrupted one with
# `digitlab train --resume runs/NAME`), so `make results` can be re-run.
RESULT_RUNS := \
	"full-seed1-aug --preset seed1" \
	"full-seed1 --preset seed1 --set augment.static.copies=0 --set augment.realtime.enabled=false" \
	"onecycle-s42 --preset onecycle"

results: data  ## reproduce results/README.md's main rows: train each run, evaluate each, then the ensemble
	@for r in $(RESULT_RUNS); do set -- $$r; dir=runs/$$1; shift; \
	  if [ -e $$dir ]; then echo "$$dir exists: not training it again"; \
	  else $(BIN)/digitlab train "$$@" --out $$dir || exit 1; fi; \
	  $(BIN)/digitlab evaluate $$dir --corruptions || exit 1; done
	$(BIN)/digitlab evaluate runs/full-seed1-aug runs/onecycle-s42 runs/full-seed1 --tta --corruptions

test: $(STAMP)  ## run the default (fast) test suite, in $(TEST_WORKERS) processes
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadscope

test-all: $(STAMP)  ## run every test, the slow ones too (a full-MNIST training run: about 2 min more on 2 cores)
	$(BIN)/pytest -m ''

lint: $(STAMP)  ## ruff: lint and formatting check (the settings are in pyproject.toml)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

format: $(STAMP)  ## ruff: fix what can be fixed and reformat
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

clean:  ## remove the virtual environment
	rm -rf $(VENV)
