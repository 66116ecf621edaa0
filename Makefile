# normlab — the two commands: `make demo` (set up, release, grade the bundled examples)
# and `make test` (set up, run the whole test suite). See README.md.

# The system's Python 3.11 when there is one: a course environment built on it works for every
# user of the machine (graders who are not root included); otherwise python3.11 from PATH.
PYTHON ?= $(or $(wildcard /usr/bin/python3.11),python3.11)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
ASSIGNMENT ?= normalization
WORKERS ?= 2
# SANDBOX=on (default): grading refuses to run student code without the sandbox.
# SANDBOX=off: the instructor's explicit opt-out (trusted submissions only).
SANDBOX ?= on
STUDENTS ?=
# SCHEDULER=tcp://HOST:PORT grades on that Dask cluster; DB_URL=postgresql+psycopg2://... keeps the
# course gradebook in that database (make grade, make lab, make feedback and nbgrader all use it).
SCHEDULER ?=
DB_URL ?=
ifneq ($(DB_URL),)
export NORMLAB_DB_URL := $(DB_URL)
endif

# nbgrader shells out to alembic: the environment's bin/ must come first on PATH.
export PATH := $(BIN):$(PATH)

.PHONY: demo test release grade feedback env test-env sandbox-tools browser-tools db-tools lab clean-grading

## demo: from a fresh clone, set up, build the release, grade the bundled examples
demo: env sandbox-tools
	$(BIN)/python -m autograder.demo --workers $(WORKERS)

## test: from a fresh clone, set up and run the whole test suite
test: test-env sandbox-tools browser-tools db-tools
	$(BIN)/python -m pytest -n 2 -q

## release: regenerate release/ from source/ with nbgrader
release: env
	$(BIN)/python -m autograder.release $(ASSIGNMENT)

## grade: grade every submission in submitted/ (WORKERS at a time)
grade: env sandbox-tools
	$(BIN)/python -m autograder.grade $(ASSIGNMENT) --workers $(WORKERS) --sandbox $(SANDBOX) $(if $(STUDENTS),--students $(STUDENTS)) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

## feedback: after grading by hand, regenerate every student's feedback, results.json and grades.csv
feedback: env
	$(BIN)/python -m autograder.feedback $(ASSIGNMENT)

## lab: open the course in JupyterLab (formgrader included), as root or as a normal user.
## LAB_ARGS passes options to JupyterLab, e.g. LAB_ARGS="--port=8899 --no-browser".
## The course folder it serves: this one, or the copy named by NORMLAB_COURSE_ROOT (tests).
LAB_ARGS ?=
lab: env
	cd "$(or $(NORMLAB_COURSE_ROOT),$(CURDIR))" && $(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

env: $(VENV)/.course
test-env: $(VENV)/.test

$(VENV)/.course: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	echo "$(CURDIR)" > "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/normlab_course.pth"
	touch $@

$(VENV)/.test: $(VENV)/.course requirements-test.txt
	$(BIN)/python -m pip install -q -r requirements-test.txt
	touch $@

## sandbox-tools: bubblewrap for the grading sandbox (installed with apt when we are root)
sandbox-tools:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get install -y -q bubblewrap >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q bubblewrap >/dev/null; }; \
	  else \
	    echo "bubblewrap (bwrap) is not installed: grading will refuse to run unsandboxed (see README, 'Sandbox')."; \
	  fi; }

## browser-tools: Chromium and its WebDriver for the real-browser test (installed with apt when we are root)
browser-tools:
	@{ test -x /usr/bin/chromium && test -x /usr/bin/chromedriver; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    export DEBIAN_FRONTEND=noninteractive; apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null; }; \
	  else \
	    echo "chromium and chromium-driver are not installed: the browser test (tests/test_browser.py) fails. Install them, e.g. sudo apt-get install chromium chromium-driver."; \
	  fi; }

## db-tools: a PostgreSQL server for the PostgreSQL gradebook test (installed with apt when we are root)
db-tools:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    export DEBIAN_FRONTEND=noninteractive; apt-get install -y -q postgresql >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null; }; \
	  else \
	    echo "PostgreSQL is not installed: the PostgreSQL gradebook test (tests/test_scale.py) fails. Install it, e.g. sudo apt-get install postgresql."; \
	  fi; }

clean-grading:
	rm -rf submitted autograded feedback gradebook.db grades.csv
