# Everything a fresh Linux machine with Python 3.11 needs: `make demo`, `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SAMPLES := samples
OUT := out

.PHONY: install demo test lint format samples bench clean

$(STAMP): setup.py pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "emotrace needs Python 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==26.0.1 setuptools==80.9.0 wheel==0.48.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

$(SAMPLES)/manifest.csv: $(STAMP)
	$(BIN)/python -m emotrace.datasets.sample_posts --output $(SAMPLES)

samples: $(SAMPLES)/manifest.csv

demo: $(SAMPLES)/manifest.csv
	$(BIN)/emotrace analyze --input $(SAMPLES)/manifest.csv --output $(OUT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	$(BIN)/pytest -q

clean:
	rm -rf $(OUT) $(SAMPLES) build dist *.egg-info
