# Two entry points for a fresh machine with only Python 3.11 and pip:
#   make demo   - the main job on the embedded demo data
#   make test   - the whole test suite
PYTHON ?= python3.11
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or make PYTHON=python3)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

# pywb (the Wayback replay tests/test_warc.py runs over the crawl's WARC files) lives in
# a venv of its own: it pins old redis/fakeredis and other versions the project's doesn't.
PYWB   ?= .venv-pywb
$(PYWB)/.installed:
	$(PYTHON) -m venv $(PYWB)
	$(PYWB)/bin/python -m pip install -q pywb || echo "pywb did not install: tests/test_warc.py skips its replay test"
	@touch $@

demo: $(STAMP)
	$(BIN)/python -m crawler demo

test: $(STAMP) $(PYWB)/.installed
	$(BIN)/python -m ruff check crawler spiders pipelines tests bench
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/extract_bench.py

clean:
	rm -rf $(VENV) $(PYWB) .pytest_cache
