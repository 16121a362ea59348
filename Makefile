# The two set-up commands: `make demo` and `make test`. Both create .venv and install on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test test-all bench lint clean

# Every optional extra and the test tools; torch's version comes from constraints.txt, the one place it is pinned
# (pyproject.toml states the range the code supports).
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt -e '.[all,test]'
	touch $(STAMP)

install: $(STAMP)

# The main job: on the embedded 5,000 MNIST digits, the deep 784-400-200-100-50-2 autoencoder, the same network
# whose code also keeps the digits' neighbour graph (umap-ae), and PCA-2.
demo: $(STAMP)
	$(VENV)/bin/aelab compare --data mnist5k --hidden 400,200,100,50 --latent 2 --methods pca,ae,umap-ae \
		--out runs/demo --force

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
