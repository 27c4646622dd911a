# The two commands a newcomer needs: `make run` and `make test`. `make bench` measures.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench wrk clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/gunicorn wsgi:app

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/pytest -n auto

# Every bench/*.py is a standalone benchmark writing bench/results/<name>.json
# (bench/_*.py are helpers, bench/report.py the summary); then one table of all.
bench: $(STAMP)
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
