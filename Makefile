# The two set-up commands: `make demo` and `make test`. Both create .venv and install on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test test-all bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test,export,track]'
	touch $(STAMP)

install: $(STAMP)

# The main job: the deep 784-400-200-100-50-2 autoencoder on the embedded 5,000 MNIST digits beside PCA-2.
demo: $(STAMP)
	$(VENV)/bin/aelab train --data mnist5k --hidden 400,200,100,50 --latent 2 --epochs 150 --batch-size 64 \
		--patience 30 --out runs/demo --force

test: $(STAMP)
	$(PY) -m pytest -q

test-all: $(STAMP)
	$(PY) -m pytest -q -m ''

bench: $(STAMP)
	$(PY) -m aelab.bench.throughput

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests

clean:
	rm -rf $(VENV) runs build *.egg-info src/*.egg-info
