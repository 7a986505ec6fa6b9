# Two commands do all the set-up on a fresh clone:
#   make run    create .venv, install, classify the embedded digits
#   make test   create .venv, install with test extras, run the tests
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: run test test-slow test-all benchmark benchmark-zoo benchmark-images benchmark-pipeline benchmark-sentiment benchmark-forecasting benchmark-compression \
        benchmark-generation benchmark-tuning benchmark-serving benchmark-transfer benchmark-graphs benchmark-ensembles zoo-table clean

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

# The quick tier: three pytest-xdist workers, every TensorFlow process they run or start on one
# intra-op and one inter-op thread. On 2 cores that keeps both cores busy while a worker waits on a
# subprocess, without three thread pools contending for them (measured, same tests: 354 s against
# 420 s for two workers of two threads each; four workers of one thread: 394 and 379 s against 309 and
# 372 s, interleaved, another day). worksteal: an idle worker takes tests queued for another,
# so the long end-to-end runs do not leave one waiting at the end.
ONE_THREAD := TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1
test: $(VENV)/.installed-test
	$(ONE_THREAD) $(PY) -m pytest -q -m "not slow" -n 3 --dist worksteal

# The slow tier: what the quick tier checks once, repeated for every application (SIGKILL resume,
# serving check, fresh-process export, sweep, two-worker training), multi-process sweeps, the deeper
# ResNets, every builder on JAX. Two workers: its tests start several processes each.
# CI runs it after `make test`; `make test-all` runs both tiers in one pytest session.
test-slow: $(VENV)/.installed-test
	$(PY) -m pytest -q -m slow -n 2 --dist worksteal

test-all: $(VENV)/.installed-test
	$(PY) -m pytest -q -n 2 --dist worksteal

benchmark: $(VENV)/.installed
	$(PY) -m benchmarks.digits

benchmark-zoo: $(VENV)/.installed
	$(PY) -m benchmarks.zoo

benchmark-images: $(VENV)/.installed
	$(PY) -m benchmarks.images

benchmark-pipeline: $(VENV)/.installed
	$(PY) -m benchmarks.pipeline

benchmark-sentiment: $(VENV)/.installed
	$(PY) -m benchmarks.sentiment
	$(PY) -m benchmarks.sentiment --small-sample

benchmark-forecasting: $(VENV)/.installed
	$(PY) -m benchmarks.forecasting --small
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

benchmark-transfer: $(VENV)/.installed
	$(PY) -m benchmarks.transfer

benchmark-graphs: $(VENV)/.installed
	$(PY) -m benchmarks.graphs

benchmark-ensembles: $(VENV)/.installed
	$(PY) -m benchmarks.ensembles

zoo-table: $(VENV)/.installed
	$(PY) -m zoo --readme README.md
