# Two commands do all the set-up on a fresh clone:
#   make run    create .venv, install, classify the embedded digits
#   make test   create .venv, install with test extras, run the tests
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: run test test-slow test-all benchmark benchmark-zoo benchmark-sentiment benchmark-forecasting benchmark-compression \
        benchmark-generation benchmark-tuning benchmark-serving zoo-table clean

# `make run` installs only what the package needs; `make test` adds the test extra (jax, hypothesis, ...).
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --editable .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install --quiet --editable ".[test]"
	touch $@

run: $(VENV)/.installed
	$(PY) -m applications.digits --source embedded

# Two worker processes (pytest-xdist): most tests are small models whose time is Python overhead.
# worksteal: an idle worker takes tests queued for the other, so the long end-to-end runs do not
# leave one worker waiting at the end.
test: $(VENV)/.installed-test
	$(PY) -m pytest -q -m "not slow" -n 2 --dist worksteal

# The slow tier: what the default run checks once, repeated for every application (SIGKILL resume,
# serving check, sweep, two-worker training), multi-process sweeps, the deeper ResNets, the JAX backend.
# CI runs it after `make test`; `make test-all` runs both tiers in one pytest session.
test-slow: $(VENV)/.installed-test
	$(PY) -m pytest -q -m slow -n 2 --dist worksteal

test-all: $(VENV)/.installed-test
	$(PY) -m pytest -q -n 2 --dist worksteal

benchmark: $(VENV)/.installed
	$(PY) -m benchmarks.digits

benchmark-zoo: $(VENV)/.installed
	$(PY) -m benchmarks.zoo

benchmark-sentiment: $(VENV)/.installed
	$(PY) -m benchmarks.sentiment

benchmark-forecasting: $(VENV)/.installed
	$(PY) -m benchmarks.forecasting

benchmark-compression: $(VENV)/.installed
	$(PY) -m benchmarks.compression

benchmark-generation: $(VENV)/.installed
	$(PY) -m benchmarks.generation

benchmark-tuning: $(VENV)/.installed
	$(PY) -m benchmarks.tuning

benchmark-serving: $(VENV)/.installed
	$(PY) -m benchmarks.serving

clean:
	rm -rf runs .pytest_cache .hypothesis

zoo-table: $(VENV)/.installed
	$(PY) -m zoo --readme README.md
