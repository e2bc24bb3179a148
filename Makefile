# make demo: a key, a signed credential, its QR code and page, each verified (creates .venv on first use).
# make test: mypy and every test, with Digital Bazaar's JS stack for the interop tests when
#            npm is on the machine (CI requires it: VCCORE_REQUIRE_INTEROP=1 in .ci/run).
# make test-fast: the same without the tests marked slow (processes killed at random moments,
#            racing workers, threads; about 19 tests and two thirds of the time).
# make lint: ruff's lint and format check (configured in pyproject.toml); CI runs it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
JS := interop/js

.PHONY: demo test test-fast lint format install install-test js bench bench-batch bench-server bench-pdf clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# with the extras the quickstart uses: reading QR images (vccore verify cert.png) and vccore serve.
# The bytecode is written as pip writes an installed copy's: an editable install leaves it to the
# first import, which writes none where PYTHONDONTWRITEBYTECODE is set (as in many containers),
# and every command then compiles vccore anew as it starts (0.1 s of a 0.37 s start).
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[images,server]'
	$(BIN)/python -m compileall -q vccore
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/python -m compileall -q vccore
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# Pinned by package-lock.json; reinstalled only when the lock changes.
$(JS)/node_modules/.installed: $(JS)/package-lock.json
	cd $(JS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

js:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(JS)/node_modules/.installed; \
	else echo "npm not found: the JS interop tests will be skipped"; fi

demo: install
	$(BIN)/vccore demo

test: install-test js
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest

test-fast: install-test js
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -m "not slow"

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# rewrite the tree as ruff formats it (then `make lint` passes)
format: install-test
	$(BIN)/ruff check --fix --quiet .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python -m benchmarks.run

# 1,000,000 payloads through `vccore issue --batch` (about 10 minutes, 5 GB of disk)
bench-batch: install
	$(BIN)/python -m benchmarks.batch

# load on `vccore serve` over loopback: certify and verify, 16 concurrent clients (about 30 s)
bench-server: install-test
	$(BIN)/python -m benchmarks.server

# time per PDF page and Chromium's peak memory, beside the HTML and SVG render (about 10 s)
bench-pdf: install
	$(BIN)/python -m benchmarks.pdf

clean:
	rm -rf $(VENV) $(JS)/node_modules .vccore-demo .pytest_cache .mypy_cache .hypothesis
