# The two commands a newcomer needs: `make run` and `make test`. `make bench` measures.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEV_STAMP := $(VENV)/.installed-dev-stamp
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: run test lint bench wrk clean messages

# What the service needs: all `make run` installs.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -e .
	touch $(STAMP)

# And what the tests, benchmarks and translation tools need (pytest, Playwright, ...).
$(DEV_STAMP): $(STAMP)
	$(PIP) -e '.[dev]'
	touch $(DEV_STAMP)

# The web server and the forwarder together; Ctrl-C stops both (see run.sh).
run: $(STAMP)
	VENV=$(VENV) ./run.sh

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/pytest -n auto

# Every bench/*.py is a standalone benchmark writing bench/results/<name>.json
# (bench/_*.py are helpers, bench/report.py the summary); then one table of all.
bench: $(DEV_STAMP)
	@command -v wrk >/dev/null || $(MAKE) --no-print-directory wrk || \
		echo "wrk could not be installed: the Python load generator runs instead"
	@mkdir -p bench/results && rm -f bench/results/*.json
	@failed=""; for script in bench/[!_]*.py; do \
		[ "$$script" = bench/report.py ] && continue; \
		echo "== $$script"; $(BIN)/python $$script || failed="$$failed $$script"; \
	done; \
	echo; $(BIN)/python bench/report.py; \
	if [ -n "$$failed" ]; then echo "failed:$$failed"; exit 1; fi

# wrk, the load generator, from the distribution's packages (Debian/Ubuntu).
wrk:
	@if [ "$$(id -u)" = 0 ]; then sudo=; else sudo="sudo -n"; fi; \
	$$sudo apt-get install -y -qq wrk >/dev/null 2>&1 || \
	{ $$sudo apt-get update -qq && $$sudo apt-get install -y -qq wrk >/dev/null; }

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Extract the strings to translate, merge them into every catalogue, compile.
# Then translate what is new in widget/translations/*/LC_MESSAGES/messages.po and run it again.
messages: $(DEV_STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
		--project otklik -o widget/translations/messages.pot .
	$(BIN)/pybabel update -i widget/translations/messages.pot -d widget/translations \
		--no-fuzzy-matching --ignore-obsolete --width 100
	$(BIN)/pybabel compile -d widget/translations --statistics
