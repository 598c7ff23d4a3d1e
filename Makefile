# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install db demo clean bench load translations

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

db: install
	$(BIN)/flask db upgrade

demo: db
	$(BIN)/flask stages demo

## Set up, load the demo data on first run, and serve on http://127.0.0.1:$(PORT) (5000 unless
## `make run PORT=5001`), with the job scheduler running beside the development server. Links in
## emails, PDFs and feeds follow that address unless STAGES_BASE_URL is set.
PORT ?= 5000
run: demo
	PORT=$(PORT) $(BIN)/flask stages scheduler & scheduler=$$!; \
	trap 'kill $$scheduler 2>/dev/null' EXIT INT TERM; \
	PORT=$(PORT) $(BIN)/flask run --host 127.0.0.1 --port $(PORT)

## Set up and run the whole test suite (SQLite; set TEST_DATABASE_URL for PostgreSQL)
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Generate scales 0.01 and 0.1 into SQLite files under bench/results/ and time the key pages
## (in-process and through gunicorn on 127.0.0.1); see bench/README.md
bench: install
	$(BIN)/python -m bench.run --scale 0.1

## Extract the texts a convocation translates (babel.cfg) into stages/translations/messages.pot and
## merge them into each language's catalog (stages/translations/<lang>/LC_MESSAGES/messages.po):
## then translate what is new or marked fuzzy (README, « Languages »). The catalogs are read as
## they are at run time: nothing to compile.
TRANSLATIONS := stages/translations
translations: install
	$(BIN)/pybabel extract -F babel.cfg --no-default-keywords -k _ -k N_ --no-location \
		--sort-output --omit-header -w 100 -o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) -w 100 \
		--previous --ignore-obsolete --ignore-pot-creation-date

clean:
	rm -rf $(VENV) .pytest_cache

## Load test: 50 users for 60 s against gunicorn on a throwaway PostgreSQL database, loopback
## only (< 3 minutes); see bench/LOAD.md. LOAD_DATABASE is the server URL, without database name.
LOAD_DATABASE ?= postgresql+psycopg://postgres@127.0.0.1:5432
load: install
	$(BIN)/python -m bench.load --users 50 --seconds 60 --database $(LOAD_DATABASE)
