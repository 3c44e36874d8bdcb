# Two commands: `make run` (the platform, with a demo center) and `make test` (everything CI checks).
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
EXTRAS ?= dev
# `make run` can run every README example, the testbed's benchmarks included
RUN_EXTRAS ?= testbed

.PHONY: run test test-fast lint typecheck pytest messages bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Re-install whenever pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[$(RUN_EXTRAS)]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[$(EXTRAS)]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/aicc db upgrade
	$(BIN)/aicc demo --if-empty --url http://$(HOST):$(PORT)
	$(BIN)/aicc server --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy src

pytest: $(VENV)/.installed-test
	# loadfile: a module's tests run on one worker, in order (modules that share a live server rely on it;
	# loadgroup's xdist_group marks were ignored by pytest 9.2 with xdist 3.8)
	$(BIN)/pytest -n $${AICC_TEST_WORKERS:-auto} --dist loadfile -p no:cacheprovider

test: lint typecheck pytest

# The fast tier, for the edit-test loop: everything that needs no Slurm, PostgreSQL, image registry or browser
# (SQLite only); those tests are skipped, each saying what to start. `make test` runs everything.
test-fast: $(VENV)/.installed-test
	AICC_TEST_FAST=1 $(BIN)/pytest -n $${AICC_TEST_WORKERS:-auto} --dist loadfile -p no:cacheprovider -q

# Translators: re-extract the English messages of the portal's code and templates into the catalogs (new ones
# arrive untranslated; `make test` fails until each has Korean). Edit the .po files with Poedit or Weblate.
PORTAL = src/aicc/portal
messages: $(VENV)/.installed-test
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k ngettext:1,2 --no-location --sort-output -o $(PORTAL)/locale/messages.pot $(PORTAL)
	$(BIN)/pybabel update -i $(PORTAL)/locale/messages.pot -d $(PORTAL)/locale -D messages --no-fuzzy-matching -w 120
	rm $(PORTAL)/locale/messages.pot

# The benchmarks that need nothing but this machine. With `eval "$$(scripts/slurm-up)"` first, also run
# bench/slurm_submit.py and bench/submit_slurm_aicc.py; on a GPU machine, bench/gpu_discovery.py;
# bench/sim_synthetic.py takes long (see its --help).
BENCHES = bench/scheduling_cycle.py bench/submit_http.py bench/sim_philly.py bench/portal_pages.py

bench: $(VENV)/.installed-test
	@for b in $(BENCHES); do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache .hypothesis
