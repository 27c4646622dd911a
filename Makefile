# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench clean messages

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# The web server and the forwarder together; Ctrl-C stops both (see run.sh).
run: $(STAMP)
	VENV=$(VENV) ./run.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/pytest -n auto

# Every bench/*.py script: each prints its table and writes bench/results/<name>.json.
bench: $(STAMP)
	@set -e; for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Extract the strings to translate, merge them into every catalogue, compile.
# Then translate what is new in widget/translations/*/LC_MESSAGES/messages.po and run it again.
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
		--project otklik -o widget/translations/messages.pot .
	$(BIN)/pybabel update -i widget/translations/messages.pot -d widget/translations \
		--no-fuzzy-matching --width 100
	$(BIN)/pybabel compile -d widget/translations --statistics
