# Everything a fresh Linux machine with Python 3.11 needs: `make demo`, `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SAMPLES := samples
OUT := out

.PHONY: install demo test lint format samples bench clean airflow-env

$(STAMP): setup.py pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "emotrace needs Python 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==26.0.1 setuptools==80.9.0 wheel==0.48.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Airflow 3 for the DAG's import-and-render test (tests/deploy/test_airflow_dag.py): its own venv, because
# Airflow's pins cannot live beside Beam's; rebuilt only when its pins change (the stamp).
AIRFLOW_VENV := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed-stamp
$(AIRFLOW_STAMP): deploy/airflow/requirements.txt deploy/airflow/constraints.txt
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "the Airflow env is checked with Python 3.11"'
	rm -rf $(AIRFLOW_VENV)
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/pip install --quiet --upgrade pip==26.0.1
	$(AIRFLOW_VENV)/bin/pip install --quiet --no-compile -r deploy/airflow/requirements.txt \
		-c deploy/airflow/constraints.txt
	$(AIRFLOW_VENV)/bin/pip check
	touch $(AIRFLOW_STAMP)

airflow-env: $(AIRFLOW_STAMP)

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

test: lint airflow-env
	$(BIN)/pytest -q

clean:
	rm -rf $(OUT) $(SAMPLES) build dist *.egg-info $(AIRFLOW_VENV)
